"""Segmentation in numpy: the losses (the reference both frameworks are tested against) and the metrics.

Layout: channels-last, as specs write shapes.  A prediction is N x S... x C (S: one, two or three spatial
axes; C = K class channels, or 1 for a foreground/background head), a mask is N x S... of class indices
with `ignore` (255 by default) where a pixel has no label.  Pixels with the ignore index count in no loss
and no metric.

How the head's output is read (`activation`):
  softmax  C = K probabilities             linear, C = K  logits (the softmax is taken in the loss)
  sigmoid  C = 1 foreground probability    linear, C = 1  one logit (the sigmoid is taken in the loss)
A one-channel head has two classes, background 0 and foreground 1: every loss and metric sees it as
K = 2 with probabilities [1 - p, p], so binary cross-entropy is cross-entropy over those two.

Losses (mean over the labelled pixels of the batch):
  ce    cross-entropy, -log p(true class), optionally weighted per class: sum(w[y] * nll) / sum(w[y])
        (PyTorch's weighted mean); binary cross-entropy on a one-channel head
  dice  soft Dice (Milletari et al. 2016, V-Net): 1 - mean over classes of
        (2 * sum(p * t) + 1) / (sum(p) + sum(t) + 1), t one-hot, sums over the batch's labelled pixels;
        the +1 keeps a class absent from both the batch and the prediction at Dice 1 instead of 0/0
  ce+dice  their sum (class weights apply to the cross-entropy term only)
"""

from __future__ import annotations

import numpy as np

EPS = 1e-7  # probabilities are clipped to [EPS, 1] before the log, in every framework
SMOOTH = 1.0  # soft Dice's additive smoothing
IGNORE = 255
LOSSES = ("ce", "dice", "ce+dice")


def log_probabilities(out: np.ndarray, activation: str) -> np.ndarray:
    """N x S... x K log-probabilities (K = 2 for a one-channel head) from the head's raw output."""
    out = np.asarray(out, np.float64)
    if out.shape[-1] == 1:
        z = out[..., 0]
        if activation == "sigmoid":
            p = np.stack([1 - z, z], axis=-1)
            return np.log(np.clip(p, EPS, 1.0))
        return np.stack([-np.logaddexp(0, z), -np.logaddexp(0, -z)], axis=-1)  # log sigmoid(-z), log sigmoid(z)
    if activation == "softmax":
        return np.log(np.clip(out, EPS, 1.0))
    shifted = out - out.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def loss(out: np.ndarray, mask: np.ndarray, kind: str, activation: str, weights=None, ignore: int = IGNORE) -> float:
    """The training loss `kind` (ce, dice, ce+dice) of a batch, in float64."""
    logp = log_probabilities(out, activation)
    mask = np.asarray(mask).astype(np.int64)
    valid = mask != ignore
    label = np.where(valid, mask, 0)
    total = 0.0
    if "ce" in kind.split("+"):
        w = (np.ones(logp.shape[-1]) if weights is None else np.asarray(weights, np.float64))[label] * valid
        nll = -np.take_along_axis(logp, label[..., None], axis=-1)[..., 0]
        total += float((w * nll).sum() / max(w.sum(), 1e-12))
    if "dice" in kind.split("+"):
        # per class k: sum(p * t) is the sum of p_k over the pixels labelled k; no one-hot array is built
        classes = logp.shape[-1]
        p = np.exp(logp[valid])  # labelled pixels x K
        truth = label[valid]
        inter = np.bincount(truth, weights=p[np.arange(len(truth)), truth], minlength=classes)
        dice = (2 * inter + SMOOTH) / (p.sum(axis=0) + np.bincount(truth, minlength=classes) + SMOOTH)
        total += float(1 - dice.mean())
    return total


def predicted_classes(out: np.ndarray, activation: str) -> np.ndarray:
    """N x S... class indices: the most probable class (foreground where p > 0.5 on a one-channel head)."""
    out = np.asarray(out)
    if out.shape[-1] == 1:
        return (out[..., 0] > (0.5 if activation == "sigmoid" else 0.0)).astype(np.int64)
    return out.argmax(axis=-1)


# ---------------------------------------------------------------- metrics


def confusion_matrix(predicted: np.ndarray, truth: np.ndarray, classes: int, ignore: int = IGNORE) -> np.ndarray:
    """K x K pixel counts, rows the true class, columns the predicted; pixels labelled `ignore` left out."""
    predicted, truth = np.asarray(predicted).reshape(-1), np.asarray(truth).reshape(-1)
    keep = truth != ignore
    index = truth[keep].astype(np.int64) * classes + predicted[keep].astype(np.int64)
    return np.bincount(index, minlength=classes * classes).reshape(classes, classes)


def scores(matrix: np.ndarray) -> dict:
    """Pixel accuracy, per-class IoU and Dice, mean IoU and mean Dice from a confusion matrix.

    IoU_k = TP / (TP + FP + FN) and Dice_k = 2 TP / (2 TP + FP + FN).  A class absent from both the truth
    and the prediction has no IoU or Dice (0 / 0): it is NaN per class and left out of the means, as
    torchmetrics' and the VOC devkit's mean IoU leave it out."""
    matrix = np.asarray(matrix, np.float64)
    tp = np.diag(matrix)
    truth, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    union = truth + predicted - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        dice = np.where(union > 0, 2 * tp / (truth + predicted), np.nan)
    total = matrix.sum()
    present = ~np.isnan(iou)
    return {
        "pixel_acc": float(tp.sum() / total) if total else float("nan"),
        "miou": float(iou[present].mean()) if present.any() else float("nan"),
        "dice": float(dice[present].mean()) if present.any() else float("nan"),
        "iou": [float(v) for v in iou],
        "class_dice": [float(v) for v in dice],
        "absent": [int(k) for k in np.flatnonzero(~present)],
    }


def evaluate(out: np.ndarray, mask: np.ndarray, classes: int, activation: str, ignore: int = IGNORE) -> dict:
    """Every number of a test report from raw outputs and masks (outputs and masks of one spatial size)."""
    matrix = confusion_matrix(predicted_classes(out, activation), mask, classes, ignore)
    return {**scores(matrix), "confusion": matrix.tolist()}
