"""From raw outputs to detections: decode, drop low scores, per-class non-max suppression (numpy).

The material's filter (the course's car-detection exercise, after YAD2K):
each box's class is the one with the highest score P(object) * P(class |
object); boxes whose score is <= the threshold (0.6) go; then, class by class,
non-max suppression keeps the highest-scoring box and removes every other box
whose IoU with it is >= the IoU threshold (0.5), and repeats with what is
left.  Classes are kept apart without a loop over classes by moving each
class's boxes to a region of its own (torchvision's `batched_nms` trick), so
one suppression pass serves all classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .boxes import pairwise_iou
from .yolo import decode


@dataclass
class Detections:
    """One image's kept boxes: corners (K x 4, fractions of the image), scores (K), classes (K), best first."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def nms(corners: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes greedy non-max suppression keeps, highest score first.  The IoU of every pair is
    computed at once; the greedy pass is a loop over kept boxes that removes their overlaps in one step."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    iou = pairwise_iou(corners[order], corners[order])
    alive = np.ones(len(order), dtype=bool)
    for i in range(len(order)):
        if alive[i]:
            alive[i + 1 :] &= iou[i, i + 1 :] < iou_threshold
    return order[alive]


def batched_nms(corners: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Per-class non-max suppression in one pass: each class's boxes are shifted by (class x span), more than
    every box's extent, so boxes of different classes never overlap."""
    if not len(scores):
        return np.zeros(0, dtype=np.int64)
    span = float(np.abs(corners).max()) * 2 + 1
    shifted = corners + (np.asarray(classes, dtype=np.float64) * span)[:, None]
    return nms(shifted, scores, iou_threshold)


def select(
    corners: np.ndarray, scores: np.ndarray, score_threshold: float, iou_threshold: float, max_detections: int = 100
) -> Detections:
    """One image's detections from its decoded boxes (K x 4) and class scores (K x C)."""
    classes = scores.argmax(axis=-1)
    best = scores.max(axis=-1)
    keep = np.flatnonzero(best > score_threshold)
    kept = keep[batched_nms(corners[keep], best[keep], classes[keep], iou_threshold)][:max_detections]
    return Detections(corners[kept], best[kept], classes[kept])


def detect(
    raw: np.ndarray,
    anchors: np.ndarray,
    classes: int,
    score_threshold: float = 0.6,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> list[Detections]:
    """Every image's detections from raw outputs (N x S_h x S_w x A(5 + C), channels-last)."""
    corners, scores = decode(raw, anchors, classes)
    return [select(c, s, score_threshold, iou_threshold, max_detections) for c, s in zip(corners, scores, strict=True)]
