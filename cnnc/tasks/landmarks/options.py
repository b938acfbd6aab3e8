"""Landmark detection's own options (the shared ones are in cnnc/tasks/runtime/config.py)."""

from __future__ import annotations

from ..runtime.config import opt

OPTIONS = (
    opt(
        "nme",
        "box",
        "what NME and PCK are normalised by: box (sqrt of the true box's area; the box around the "
        "true points where the data has none) or points (the distance between the two points of --nme-points)",
        "landmarks",
        choices=("box", "points"),
    ),
    opt(
        "nme_points",
        "1,2",
        "the two point numbers (1-based) whose distance normalises with --nme points, e.g. the eye corners",
        "landmarks",
    ),
    opt(
        "draw",
        8,
        "draw the predicted points of this many test images into <out>/predictions.png (0: none)",
        "landmarks",
    ),
)
