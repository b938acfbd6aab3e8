"""Verification's numpy pieces: triplet selection, the losses, P x K batches (cnnc/tasks/verify/runtime)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnc.tasks.verify.runtime import mining, sampling

# 1-D embeddings: identity 0 at 0, 1, 3; identity 1 at 4, 10.  Squared distances are easy to read off.
EMB = np.array([[0.0], [1.0], [3.0], [4.0], [10.0]])
LABELS = np.array([0, 0, 0, 1, 1])


def brute_force_batch_hard(emb: np.ndarray, labels: np.ndarray) -> list[tuple[int, int, int]]:
    """Per anchor, by plain loops: the farthest positive and the nearest negative."""
    n, rows = len(labels), []
    dist = lambda i, j: float(np.sum((emb[i] - emb[j]) ** 2))  # noqa: E731
    for a in range(n):
        positives = [j for j in range(n) if j != a and labels[j] == labels[a]]
        negatives = [j for j in range(n) if labels[j] != labels[a]]
        if positives and negatives:
            rows.append((a, max(positives, key=lambda j: dist(a, j)), min(negatives, key=lambda j: dist(a, j))))
    return rows


def test_batch_hard_picks_the_farthest_positive_and_the_nearest_negative_by_hand():
    d = mining.distance_matrix(EMB)
    assert mining.batch_hard(d, LABELS).tolist() == [[0, 2, 3], [1, 2, 3], [2, 0, 3], [3, 4, 2], [4, 3, 2]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_hard_matches_a_brute_force_search(seed):
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(24, 8))  # continuous values: no ties, so the choice is unique
    labels = np.r_[np.repeat(np.arange(5), 4), [5, 6, 7, 7]]  # 5 and 6 have no positive: no anchor
    got = mining.batch_hard(mining.distance_matrix(emb), labels)
    want = brute_force_batch_hard(emb, labels)
    assert len(want) == 22
    assert [tuple(int(v) for v in row) for row in got] == want


def test_semi_hard_picks_the_nearest_negative_farther_than_the_positive():
    got = mining.semi_hard(mining.distance_matrix(EMB), LABELS).tolist()
    # (3, 4): d = 36 and every negative is nearer (16, 9, 1): the farthest negative, 0, stands in
    assert got == [[0, 1, 3], [0, 2, 3], [1, 0, 3], [1, 2, 3], [2, 0, 4], [2, 1, 4], [3, 4, 0], [4, 3, 2]]


def test_batch_all_has_every_valid_triplet():
    triplets = mining.batch_all(LABELS)
    assert len(triplets) == 3 * 2 * 2 + 2 * 1 * 3  # anchors x positives x negatives, per identity
    a, p, n = triplets.T
    assert (LABELS[a] == LABELS[p]).all() and (a != p).all() and (LABELS[a] != LABELS[n]).all()


@pytest.mark.parametrize(
    ("how", "reduction", "expected"),
    [
        ("batch-hard", "sum", 45.0),  # anchors 2 (9 - 1 + 1) and 3 (36 - 1 + 1)
        ("batch-hard", "mean", 9.0),  # over the 5 anchors
        ("semi-hard", "sum", 21.0),  # (3, 4, 0): 36 - 16 + 1
        ("semi-hard", "mean", 2.625),  # over the 8 positive pairs
        ("batch-all", "sum", 98.0),  # 9 + 4 + 21 + 28 + 36
        ("batch-all", "mean", 19.6),  # over the 5 triplets that still contribute
    ],
)
def test_triplet_loss_by_hand(how, reduction, expected):
    assert mining.triplet_loss(EMB, LABELS, alpha=1.0, mining=how, reduction=reduction) == pytest.approx(expected)


def test_euclidean_distance_is_the_square_root():
    d = mining.distance_matrix(EMB, squared=False)
    assert d[0, 4] == pytest.approx(10.0) and d[2, 3] == pytest.approx(1.0)
    assert d[1, 1] == pytest.approx(1e-6)  # sqrt of the 1e-12 floor


def test_unknown_mining_is_named():
    with pytest.raises(ValueError, match="batch-hard, semi-hard, batch-all"):
        mining.triplet_loss(EMB, LABELS, mining="hardest")


def test_pair_loss_by_hand():
    emb, labels = np.array([[0.0], [1.0], [5.0]]), np.array([0, 0, 1])
    # logits -|diff| + 2: same pair 1; different pairs -3, -2; half the weight on each kind
    assert mining.pair_loss(emb, labels, w=[-1.0], b=2.0) == pytest.approx(0.20050968441329006)
    # chi-square terms 1, 25/5, 16/6
    assert mining.pair_loss(emb, labels, w=[-1.0], b=2.0, kind="chi2") == pytest.approx(0.27237020336556494)


def test_l2_normalize_gives_unit_rows():
    out = mining.l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert out.tolist() == [[0.6, 0.8], [0.0, 0.0]]


# ---------------------------------------------------------------- P x K batches

IDS = np.array([0] * 5 + [1] * 3 + [2] + [3] * 4 + [4] * 2)  # identity 2 has one image


def test_pk_batches_hold_p_identities_of_k_images():
    batches = sampling.pk_batches(IDS, p=3, k=2, seed=0, epoch=0)
    assert len(batches) == 3  # ceil(14 trainable images / 6)
    for batch in batches:
        assert len(set(batch.tolist())) == len(batch) == 6
        values, counts = np.unique(IDS[batch], return_counts=True)
        assert len(values) == 3 and counts.tolist() == [2, 2, 2] and 2 not in values


def test_pk_batches_see_every_image_and_repeat_exactly():
    seen = set()
    for epoch in range(4):
        seen |= {int(i) for b in sampling.pk_batches(IDS, 3, 2, seed=5, epoch=epoch) for i in b}
    assert seen == set(range(len(IDS))) - {8}  # all but identity 2's one image
    again = sampling.pk_batches(IDS, 3, 2, seed=5, epoch=1)
    assert [b.tolist() for b in again] == [b.tolist() for b in sampling.pk_batches(IDS, 3, 2, seed=5, epoch=1)]


def test_an_identity_with_fewer_than_k_images_gives_all_it_has():
    batch = sampling.pk_batches(np.array([0, 0, 1, 1, 1, 1]), p=2, k=3, seed=0, epoch=0)[0]
    assert sorted(np.bincount(np.array([0, 0, 1, 1, 1, 1])[batch]).tolist()) == [2, 3]


def test_processes_share_each_global_batch_by_whole_identities():
    whole = sampling.pk_batches(IDS, 4, 2, seed=3, epoch=2)
    parts = [sampling.pk_batches(IDS, 4, 2, seed=3, epoch=2, rank=r, world=2) for r in range(2)]
    for b, (first, second) in enumerate(zip(*parts)):
        assert sorted(first.tolist() + second.tolist()) == sorted(whole[b].tolist())
        assert not set(IDS[first]) & set(IDS[second])
        assert len(first) == len(second) == 4  # two identities of two images each


def test_pk_batches_need_two_identities_with_positives():
    with pytest.raises(ValueError, match="1 such identities"):
        sampling.pk_batches(np.array([0, 0, 1, 2]), p=2, k=2, seed=0, epoch=0)


def test_the_task_says_when_no_batch_can_hold_a_positive():
    from types import SimpleNamespace

    from cnnc.tasks.runtime.config import ConfigError
    from cnnc.tasks.verify.runtime.common import Evaluation, VerifyHead

    cfg = SimpleNamespace(identities_per_batch=8, images_per_identity=4, seed=0)
    task = Evaluation(VerifyHead(inputs=("x",), output="f", dim=4), cfg)
    batches = task.train_batches(IDS, epoch=0, rank=0, world=1)
    assert [len(b) for b in batches] == [4 + 3 + 4 + 2]  # P = the 4 identities with positives, K = 4 or all
    with pytest.raises(ConfigError, match="two identities with two images or more"):
        task.train_batches(np.array([0, 0, 1, 2, 3]), epoch=0, rank=0, world=1)
