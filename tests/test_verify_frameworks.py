"""The verification losses in torch and in Keras give the numpy reference's value for the same embeddings
and identities (the differential test of issue 14), and their gradients stay finite.

The frameworks are imported by a fixture, not at collection, so collecting the quick suite loads neither."""

from __future__ import annotations

import numpy as np
import pytest

from cnnc.tasks.verify.runtime import mining


@pytest.fixture(scope="module")
def frameworks():
    """(torch, the torch side, the Keras side) of the verification runtime."""
    import torch

    from cnnc.tasks.verify.runtime import keras as vk
    from cnnc.tasks.verify.runtime import torch as vt

    return torch, vt, vk


RNG = np.random.default_rng(0)
EMB = RNG.normal(size=(12, 6)).astype(np.float32)
IDS = np.r_[np.repeat(np.arange(4), 2), [4, 4, 4, 5]]  # identity 5: one image, a negative only


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("squared", [True, False])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("how", mining.MINING)
def test_triplet_loss_is_one_value_in_numpy_torch_and_keras(frameworks, how, reduction, squared, normalize):
    torch, vt, vk = frameworks
    emb = mining.l2_normalize(EMB).astype(np.float32) if normalize else EMB
    want = mining.triplet_loss(emb, IDS, 0.3, how, squared, reduction)
    got_torch = vt.triplet_loss(torch.tensor(emb), torch.tensor(IDS), 0.3, how, squared, reduction)
    got_keras = vk.triplet_loss(emb, IDS, 0.3, how, squared, reduction)
    assert want > 0.01  # not a trivial 0 == 0
    assert float(got_torch) == pytest.approx(want, rel=1e-5)
    assert float(np.asarray(got_keras)) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("kind", mining.PAIR_FEATURES)
def test_pair_loss_is_one_value_in_numpy_torch_and_keras(frameworks, kind):
    torch, vt, vk = frameworks
    w, b = RNG.normal(size=6).astype(np.float32), 0.4
    want = mining.pair_loss(EMB, IDS, w, b, kind)
    head = vt.PairHead(6, kind)
    with torch.no_grad():
        head.weight.copy_(torch.tensor(w))
        head.bias.fill_(b)
    layer = vk.PairHead(kind)
    layer.build((None, 6))
    layer.w.assign(w)
    layer.b.assign(b)
    assert float(head.loss(torch.tensor(EMB), torch.tensor(IDS)).detach()) == pytest.approx(want, rel=1e-5)
    assert float(np.asarray(vk.pair_loss(IDS, layer(EMB)))) == pytest.approx(want, rel=1e-5)


def test_l2_normalize_is_one_value_in_numpy_torch_and_keras(frameworks):
    torch, vt, vk = frameworks
    want = mining.l2_normalize(EMB)
    assert np.allclose(vt.l2_normalize(torch.tensor(EMB)).numpy(), want, atol=1e-6)
    assert np.allclose(np.asarray(vk.l2_normalize(EMB)), want, atol=1e-6)


@pytest.mark.parametrize("how", mining.MINING)
def test_gradients_are_finite_where_embeddings_coincide(frameworks, how):
    torch, vt, _ = frameworks
    emb = torch.tensor(np.r_[EMB[:1], EMB[:1], EMB[2:]], requires_grad=True)  # two identical rows
    vt.triplet_loss(emb, torch.tensor(IDS), 0.3, how, squared=False).backward()
    assert torch.isfinite(emb.grad).all() and emb.grad.abs().sum() > 0


def test_batch_hard_gradient_reaches_only_the_chosen_triplets(frameworks):
    """The loss of one anchor moves only its anchor, its farthest positive and its nearest negative."""
    torch, vt, _ = frameworks
    emb = np.array([[0.0], [1.0], [3.0], [4.0], [10.0]], dtype=np.float32)
    ids = torch.tensor([0, 0, 0, 1, 1])
    x = torch.tensor(emb, requires_grad=True)
    vt.triplet_loss(x, ids, alpha=1.0, mining="batch-hard", reduction="sum").backward()
    # active: anchor 2 (positive 0, negative 3) and anchor 3 (positive 4, negative 2), squared distances
    # d/dx of (x2 - x0)^2 - (x2 - x3)^2 (x = 0, 1, 3, 4, 10): x0 -6, x2 8, x3 -2;
    # of (x3 - x4)^2 - (x3 - x2)^2: x3 -14, x4 12, x2 2; identity 0's other anchors are inactive
    assert x.grad[:, 0].tolist() == pytest.approx([-6.0, 0.0, 10.0, -16.0, 12.0])
