"""Segmentation with Keras: the losses of metrics.py on channels-last outputs, and what the shared Trainer
asks of the task (the compile call, whose loss is Keras' train step, is written in train.py).

The model gives N x S... x C; the masks are N x S... class indices (Keras may hand them with a trailing
axis of 1) with the ignore index where a pixel has no label.  When the output is smaller than the input
(valid convolutions) the mask is cropped to the output's centre first.  The numbers equal
metrics.loss's (tested).
"""

from __future__ import annotations

import numpy as np
from keras import ops

from .common import AxisFlips as AxisFlips  # train.py wraps the augmentation: flips per axis
from .common import Evaluation, SegmentHead
from .common import Reader as Reader  # train.py reads the data through the task's framework file
from .metrics import EPS, IGNORE, SMOOTH


def centre_crop(mask, spatial: tuple[int, ...]):
    """The centre `spatial` of an N x S... mask (the U-Net's target for a smaller output)."""
    starts = [(n - s) // 2 for n, s in zip(mask.shape[1:], spatial, strict=True)]
    return mask[(slice(None), *(slice(a, a + s) for a, s in zip(starts, spatial, strict=True)))]


def log_probabilities(out, activation: str):
    """N x S... x K log-probabilities (K = 2 for a one-channel head: background, foreground)."""
    out = ops.cast(out, "float32")
    if out.shape[-1] == 1:
        if activation == "sigmoid":
            return ops.log(ops.clip(ops.concatenate([1 - out, out], axis=-1), EPS, 1.0))
        return ops.concatenate([ops.log_sigmoid(-out), ops.log_sigmoid(out)], axis=-1)
    if activation == "softmax":
        return ops.log(ops.clip(out, EPS, 1.0))
    return ops.log_softmax(out, axis=-1)


def segment_loss(out, mask, kind: str, activation: str, weights=None, ignore: int = IGNORE):
    """ce, dice or ce+dice over the labelled pixels of the batch (metrics.py has the formulas)."""
    if len(mask.shape) == len(out.shape):
        mask = mask[..., 0]  # Keras gives y_true the prediction's rank
    mask = ops.cast(centre_crop(mask, tuple(out.shape[1:-1])), "int32")
    logp = log_probabilities(out, activation)
    valid = ops.not_equal(mask, ignore)
    label = ops.where(valid, mask, ops.zeros_like(mask))
    keep = ops.cast(valid, "float32")
    total = 0.0
    if "ce" in kind.split("+"):
        w = keep if weights is None else ops.take(ops.convert_to_tensor(weights, "float32"), label) * keep
        nll = -ops.take_along_axis(logp, ops.expand_dims(label, -1), axis=-1)[..., 0]
        total = total + ops.sum(w * nll) / ops.maximum(ops.sum(w), 1e-12)
    if "dice" in kind.split("+"):
        p = ops.exp(logp) * keep[..., None]
        t = ops.one_hot(label, logp.shape[-1]) * keep[..., None]
        axes = tuple(range(len(p.shape) - 1))
        dice = (2 * ops.sum(p * t, axis=axes) + SMOOTH) / (ops.sum(p, axis=axes) + ops.sum(t, axis=axes) + SMOOTH)
        total = total + 1 - ops.mean(dice)
    return total


class Segment(Evaluation):
    """The task for the shared Trainer: `compile_model` comes from train.py."""

    def __init__(self, head: SegmentHead, cfg, compile_model, colours=None):
        super().__init__(head, cfg, colours)
        self._compile = compile_model

    def compile(self, model, optimizer) -> None:
        self._compile(model, optimizer, self.cfg)

    def fit_targets(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.int32, copy=False)

    def predictions(self, out) -> np.ndarray:
        return np.asarray(out, dtype=np.float32)

    def tile_predictor(self, trainer):
        """Batches of channels-last tiles to the model's output, both numpy."""
        return lambda tiles: np.asarray(trainer.model.predict_on_batch(tiles.astype(np.float32)))
