"""Verification's evaluation and data: threshold, ROC/AUC (against scikit-learn), one-shot recognition,
identity folders and the identity-disjoint split (cnnc/tasks/verify/runtime)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnc.tasks.runtime.data import DataError
from cnnc.tasks.verify.runtime import evaluate, identities, plots

DIS = np.array([0.1, 0.2, 0.3, 0.4])
SAME = np.array([True, False, True, False])


def test_roc_and_auc_by_hand():
    far, tar, thresholds = evaluate.roc(DIS, SAME)
    assert far.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0] and tar.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert thresholds[1:].tolist() == [0.1, 0.2, 0.3, 0.4]
    assert evaluate.auc(far, tar) == pytest.approx(0.75)
    assert evaluate.tar_at_far(far, tar, 0.0) == 0.5 and evaluate.tar_at_far(far, tar, 0.5) == 1.0


def test_roc_matches_scikit_learn_with_ties():
    from sklearn.metrics import roc_auc_score, roc_curve

    rng = np.random.default_rng(0)
    same = rng.random(400) < 0.3
    dis = np.round(rng.normal(size=400) + 1.5 * ~same, 1)  # rounded: many ties
    far, tar, _ = evaluate.roc(dis, same)
    assert evaluate.auc(far, tar) == pytest.approx(roc_auc_score(same, -dis), abs=1e-12)
    sk_far, sk_tar, _ = roc_curve(same, -dis, drop_intermediate=False)
    assert np.allclose(far, sk_far) and np.allclose(tar, sk_tar)


def test_threshold_is_halfway_past_the_best_accepted_value():
    assert evaluate.choose_threshold(DIS, SAME) == pytest.approx(0.15)
    separable = evaluate.choose_threshold(np.array([1.0, 2.0, 5.0, 6.0]), np.array([True, True, False, False]))
    assert separable == pytest.approx(3.5)


def test_verification_numbers_at_tau():
    numbers = evaluate.verification(DIS, SAME, tau=0.35)
    assert numbers["tar"] == 1.0 and numbers["far"] == 0.5 and numbers["accuracy"] == 0.75
    assert numbers["pair_accuracy"] == 0.75 and numbers["same_pairs"] == 2 and numbers["different_pairs"] == 2


def test_pairs_from_embeddings():
    emb, ids = np.array([[0.0], [1.0], [3.0]]), np.array([7, 7, 9])
    dis, same = evaluate.pairs(emb, ids, evaluate.Measure())
    assert dis.tolist() == [1.0, 9.0, 4.0] and same.tolist() == [True, False, False]
    head = evaluate.Measure(pair_weight=(-2.0,), pair_bias=1.0)  # minus the logit -2|d| + 1
    assert evaluate.pairs(emb, ids, head)[0].tolist() == [1.0, 5.0, 3.0]


def test_recognise_says_not_recognised_beyond_tau():
    gallery, probes = np.array([[0.0], [5.0]]), np.array([[0.0], [4.0], [9.0]])
    found, best = evaluate.recognise(probes, gallery, 2.0, evaluate.Measure())
    assert found.tolist() == [0, 1, -1] and best.tolist() == [0.0, 1.0, 16.0]


def test_one_shot_top1_and_the_tau_rule():
    emb = np.array([[0.0], [0.1], [5.0], [5.2], [10.0], [10.3]])
    ids = np.array([0, 0, 1, 1, 2, 2])  # whichever image is the gallery's, the probe is 0.1, 0.2, 0.3 away
    loose = evaluate.one_shot(emb, ids, tau=1.0, measure=evaluate.Measure())
    assert loose == {"top1": 1.0, "top1_at_tau": 1.0, "not_recognised": 0.0, "probes": 3, "gallery": 3}
    strict = evaluate.one_shot(emb, ids, tau=0.05, measure=evaluate.Measure())  # squared: 0.01, 0.04, 0.09
    assert strict["top1"] == 1.0 and strict["top1_at_tau"] == pytest.approx(2 / 3)
    assert strict["not_recognised"] == pytest.approx(1 / 3)


def test_plots_are_written(tmp_path):
    numbers = evaluate.verification(DIS, SAME, 0.35)
    far, tar, _ = evaluate.roc(DIS, SAME)
    plots.plot_roc(tmp_path / "roc.png", far, tar, numbers)
    plots.plot_histograms(tmp_path / "hist.png", DIS, SAME, 0.35, "d")
    for name in ("roc.png", "hist.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- data


def _person(root, name, sizes):
    folder = root / name
    folder.mkdir(parents=True)
    for i, size in enumerate(sizes):
        Image.new("L", size, color=i * 40).save(folder / f"{name}_{i:04d}.png")


def test_identity_folders_lfw_layout(tmp_path):
    _person(tmp_path, "Ada", [(8, 8)] * 3)
    _person(tmp_path, "Bob", [(8, 8)])
    _person(tmp_path, "Cy", [(8, 8)] * 2)
    paths, ids, names, notes = identities.scan_identity_folders(tmp_path)
    assert names == ["Ada", "Bob", "Cy"] and ids.tolist() == [0, 0, 0, 1, 2, 2]
    assert paths[3].endswith("Bob/Bob_0000.png")
    assert notes == [
        "1 of 3 identities have one image only (Bob): they cannot form a positive pair, so training "
        "uses them only as negatives of others and evaluation as negatives and gallery entries"
    ]


def test_empty_identity_folders_are_named(tmp_path):
    _person(tmp_path, "Ada", [(8, 8)] * 2)
    (tmp_path / "Nobody").mkdir()
    with pytest.raises(DataError, match=r"1 identity folder\(s\) hold no images: Nobody"):
        identities.scan_identity_folders(tmp_path)


def test_mixed_image_sizes_are_counted(tmp_path):
    _person(tmp_path, "Ada", [(8, 8), (8, 8), (10, 6)])
    with pytest.raises(DataError, match=r"2 sizes.*\n  8x8: 2 image\(s\).*\n  10x6: 1 image\(s\), e.g. .*Ada_0002"):
        identities.scan_identity_folders(tmp_path)
    assert len(identities.scan_identity_folders(tmp_path, mixed_sizes="resize")[0]) == 3


def test_identity_split_never_shares_a_person():
    ids = np.repeat(np.arange(10), 3)
    train, val, test = identities.identity_split(ids, (0.6, 0.2, 0.2), seed=1)
    assert [len(set(ids[p])) for p in (train, val, test)] == [6, 2, 2]
    assert not (set(ids[train]) & set(ids[val])) and not (set(ids[train]) & set(ids[test]))
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(30))
    with pytest.raises(DataError, match="3 identities cannot be split"):
        identities.identity_split(np.arange(3), (0.4, 0.3, 0.3), seed=0)


def test_npz_identity_labels(tmp_path):
    arrays = {"x": np.zeros((4, 8, 8)), "identities": np.array([0, 0, 1, 1]), "identity_names": np.array(["a", "b"])}
    ids = identities.identity_arrays(arrays, "", 4, tmp_path / "d.npz")
    assert ids.tolist() == [0, 0, 1, 1] and identities.identity_names(arrays, ids, tmp_path) == ["a", "b"]
    with pytest.raises(DataError, match="needs the identity of each example as `identities`"):
        identities.identity_arrays({"x": arrays["x"]}, "", 4, tmp_path / "d.npz")
    assert identities.describe(np.array([0, 0, 1])) == "2 identities (1 with one image only), 3 images"
