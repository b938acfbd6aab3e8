"""Metric helpers that more than one task needs, numpy, framework-neutral.

A task's own metrics live in its folder (`cnnc/tasks/<task>/runtime/common.py`);
what is here knows no task: intersection over union of boxes, means that
tolerate empty splits, and a one-line rendering of a task's numbers.
"""

from __future__ import annotations

import numpy as np


def box_corners(boxes: np.ndarray) -> np.ndarray:
    """(bx, by, bh, bw) midpoint and size (the material's box) to (top, left, bottom, right), N x 4."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    bx, by, bh, bw = boxes.T
    return np.stack([by - bh / 2, bx - bw / 2, by + bh / 2, bx + bw / 2], axis=1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of matching rows of two N x 4 arrays of (bx, by, bh, bw) boxes."""
    ca, cb = box_corners(a), box_corners(b)
    top, left = np.maximum(ca[:, 0], cb[:, 0]), np.maximum(ca[:, 1], cb[:, 1])
    bottom, right = np.minimum(ca[:, 2], cb[:, 2]), np.minimum(ca[:, 3], cb[:, 3])
    inter = np.clip(bottom - top, 0, None) * np.clip(right - left, 0, None)
    area = lambda c: np.clip(c[:, 2] - c[:, 0], 0, None) * np.clip(c[:, 3] - c[:, 1], 0, None)  # noqa: E731
    union = area(ca) + area(cb) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def mean(values: np.ndarray) -> float:
    """The mean, NaN for an empty array (an empty split has no number, not a warning)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()) if values.size else float("nan")


def format_numbers(numbers: dict, keys: list[str], names: dict[str, str] | None = None) -> str:
    """`name 0.1234, name 0.5678` for the scalar entries `keys` of a result."""
    names = names or {}
    return ", ".join(f"{names.get(k, k)} {numbers[k]:.4f}" for k in keys if k in numbers)
