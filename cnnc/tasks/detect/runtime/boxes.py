"""Boxes for detection, numpy: conversions, intersection over union, k-means anchors.

Conventions (the YOLO label format's): a box is (cx, cy, w, h), its midpoint
and size as fractions of the image (x across, y down); `corners` are (x1, y1,
x2, y2) in the same units.  An anchor is a box shape (w, h) as fractions of
the image.  Coordinates are continuous (no +1 pixel as the old VOC devkit had).
"""

from __future__ import annotations

import numpy as np


def to_corners(boxes: np.ndarray) -> np.ndarray:
    """(cx, cy, w, h) -> (x1, y1, x2, y2), ... x 4."""
    boxes = np.asarray(boxes, dtype=np.float64)
    half = boxes[..., 2:4] / 2
    return np.concatenate([boxes[..., 0:2] - half, boxes[..., 0:2] + half], axis=-1)


def to_center(corners: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) -> (cx, cy, w, h), ... x 4."""
    corners = np.asarray(corners, dtype=np.float64)
    size = corners[..., 2:4] - corners[..., 0:2]
    return np.concatenate([corners[..., 0:2] + size / 2, size], axis=-1)


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every corner box of `a` (N x 4) with every one of `b` (M x 4): N x M (0 where the union is 0)."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 2], b[None, :, 2])
    bottom = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def shape_iou(sizes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """IoU of box shapes (N x 2: w, h) with anchor shapes (A x 2) as if they shared a midpoint: N x A.
    The material's rule for which anchor an object belongs to, and the k-means distance (1 - this)."""
    sizes, anchors = np.asarray(sizes, np.float64).reshape(-1, 2), np.asarray(anchors, np.float64).reshape(-1, 2)
    inter = np.minimum(sizes[:, None, 0], anchors[None, :, 0]) * np.minimum(sizes[:, None, 1], anchors[None, :, 1])
    union = (sizes[:, 0] * sizes[:, 1])[:, None] + (anchors[:, 0] * anchors[:, 1])[None, :] - inter
    return inter / np.maximum(union, 1e-12)


def mean_best_iou(sizes: np.ndarray, anchors: np.ndarray) -> float:
    """The mean, over boxes, of the shape IoU with their best anchor (YOLO9000's "Avg IOU", table 1)."""
    sizes = np.asarray(sizes, np.float64).reshape(-1, 2)
    return float(shape_iou(sizes, anchors).max(axis=1).mean()) if len(sizes) else float("nan")


def kmeans_anchors(sizes: np.ndarray, k: int, seed: int = 0, iterations: int = 300) -> np.ndarray:
    """k anchor shapes (k x 2, smallest area first) by k-means on box shapes with d = 1 - IoU (YOLO9000,
    section 2: Euclidean distance would let big boxes dominate).  Centres start at k distinct shapes drawn
    with the seed; each centre moves to the median of its members (as darknet's and Ultralytics' scripts
    do, robust to outliers); an empty cluster keeps its centre.  Stops when no assignment changes."""
    sizes = np.asarray(sizes, np.float64).reshape(-1, 2)
    distinct = np.unique(sizes, axis=0)
    if len(distinct) < k:
        raise ValueError(
            f"k-means needs at least {k} distinct box shapes for {k} anchors, the data has {len(distinct)}"
        )
    rng = np.random.default_rng(seed)
    centres = distinct[rng.choice(len(distinct), size=k, replace=False)]
    members = None
    for _ in range(iterations):
        nearest = np.argmax(shape_iou(sizes, centres), axis=1)  # the smallest 1 - IoU
        if members is not None and np.array_equal(nearest, members):
            break
        members = nearest
        for j in range(k):
            if np.any(members == j):
                centres[j] = np.median(sizes[members == j], axis=0)
    return centres[np.argsort(centres[:, 0] * centres[:, 1], kind="stable")]


def parse_anchors(text: str) -> np.ndarray:
    """`--anchors "w,h w,h ..."` (fractions of the image) as A x 2; ValueError with the reason."""
    pairs = text.replace(";", " ").split()
    try:
        anchors = np.array([[float(v) for v in pair.split(",")] for pair in pairs], dtype=np.float64)
    except ValueError:
        raise ValueError(f"anchors must be `w,h w,h ...` as fractions of the image, or auto; got {text!r}") from None
    if anchors.ndim != 2 or anchors.shape[1] != 2 or not len(anchors):
        raise ValueError(f"anchors must be pairs `w,h` separated by spaces, got {text!r}")
    if (anchors <= 0).any() or (anchors > 1).any():
        raise ValueError(f"anchor sizes are fractions of the image, in (0, 1]; got {text!r}")
    return anchors


def format_anchors(anchors: np.ndarray) -> str:
    """The --anchors text of these anchors (so a run can repeat another's)."""
    return " ".join(f"{w:.4g},{h:.4g}" for w, h in np.asarray(anchors))
