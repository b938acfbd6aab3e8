"""Segmentation losses: numpy reference, PyTorch and Keras give the same numbers (2D and 3D), and the
reference itself against hand-computed values."""

import math

import numpy as np
import pytest

from cnnc.tasks.segment.runtime import metrics

HEADS = [("softmax", 3), ("linear", 3), ("sigmoid", 1), ("linear", 1)]


def _batch(spatial, channels, activation, seed=0, crop=0):
    """Outputs (channels-last) and masks (larger by `crop` per side) with some ignored pixels."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(2, *spatial, channels)).astype(np.float32)
    if activation == "softmax":
        z = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    elif activation == "sigmoid":
        z = 1 / (1 + np.exp(-z))
    classes = max(channels, 2)
    mask = rng.integers(0, classes, size=(2, *(n + 2 * crop for n in spatial))).astype(np.uint8)
    mask[rng.random(mask.shape) < 0.1] = 255
    return z.astype(np.float32), mask


def _torch_loss(out, mask, kind, activation, weights):
    import torch

    from cnnc.tasks.segment.runtime import torch as seg_torch

    nchw = torch.from_numpy(np.moveaxis(out, -1, 1).copy())
    return float(seg_torch.segment_loss(nchw, torch.from_numpy(mask), kind, activation, weights))


def _keras_loss(out, mask, kind, activation, weights):
    from cnnc.tasks.segment.runtime import keras as seg_keras

    return float(seg_keras.segment_loss(out, mask, kind, activation, weights))


@pytest.mark.parametrize("spatial", [(6, 5), (4, 3, 5)], ids=["2d", "3d"])
@pytest.mark.parametrize("activation,channels", HEADS)
@pytest.mark.parametrize("kind", metrics.LOSSES)
def test_frameworks_agree_with_reference(spatial, activation, channels, kind):
    out, mask = _batch(spatial, channels, activation, crop=1)
    weights = [0.5, 2.0, 1.0][: max(channels, 2)]
    inner = metrics.loss(out, mask[(slice(None), *(slice(1, -1),) * len(spatial))], kind, activation, weights)
    for framework in (_torch_loss, _keras_loss):
        assert framework(out, mask, kind, activation, weights) == pytest.approx(inner, rel=2e-5, abs=1e-6)
    unweighted = metrics.loss(out, mask[(slice(None), *(slice(1, -1),) * len(spatial))], kind, activation)
    assert _torch_loss(out, mask, kind, activation, None) == pytest.approx(unweighted, rel=2e-5, abs=1e-6)
    assert _keras_loss(out, mask, kind, activation, None) == pytest.approx(unweighted, rel=2e-5, abs=1e-6)


def test_reference_values_by_hand():
    # uniform logits over 4 classes: -log(1/4) at every pixel, whatever the labels
    out = np.zeros((1, 2, 2, 4))
    mask = np.array([[[0, 1], [2, 255]]])
    assert metrics.loss(out, mask, "ce", "linear") == pytest.approx(math.log(4))
    # weights: pixels of class 0 weigh 3, so (3 + 1 + 1) * log 4 / 5 is still log 4 ...
    assert metrics.loss(out, mask, "ce", "linear", [3, 1, 1, 1]) == pytest.approx(math.log(4))
    # ... but with unequal losses the weighted mean moves: class 0 pixel p=0.5, class 1 pixel p=0.25
    probs = np.array([[[[0.5, 0.5], [0.75, 0.25]]]])  # 1 x 1 x 2 x 2, softmax head
    two = np.array([[[0, 1]]])
    expected = (3 * math.log(2) + 1 * math.log(4)) / 4
    assert metrics.loss(probs, two, "ce", "softmax", [3, 1]) == pytest.approx(expected)
    # a perfect one-hot prediction has Dice loss 0 (classes absent from both count as Dice 1), up to the
    # 1e-7 that the zeros are clipped to before the log
    onehot = np.eye(3)[np.array([[[0, 1], [1, 0]]])]
    assert metrics.loss(onehot, np.array([[[0, 1], [1, 0]]]), "dice", "softmax") == pytest.approx(0.0, abs=1e-6)
    # sigmoid 0.8 on a foreground pixel: -log 0.8; Dice: fg (2*.8+1)/(.8+1+1), bg (0+1)/(.2+0+1)
    p = np.array([[[[0.8]]]])
    fg = np.array([[[1]]])
    assert metrics.loss(p, fg, "ce", "sigmoid") == pytest.approx(-math.log(0.8))
    dice = 1 - ((2.6 / 2.8) + (1 / 1.2)) / 2
    assert metrics.loss(p, fg, "ce+dice", "sigmoid") == pytest.approx(-math.log(0.8) + dice)


def test_all_ignored_is_zero_not_nan():
    out, mask = np.zeros((1, 2, 2, 3)), np.full((1, 2, 2), 255)
    assert metrics.loss(out, mask, "ce", "linear") == 0.0
