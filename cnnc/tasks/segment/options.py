"""Segmentation's own options (the shared ones are in cnnc/tasks/runtime/config.py)."""

from __future__ import annotations

from ..runtime.config import opt

OPTIONS = (
    opt(
        "loss",
        "ce",
        "ce: per-pixel cross-entropy (binary on a one-channel head); dice: soft Dice; ce+dice: their sum",
        "segmentation",
        choices=("ce", "dice", "ce+dice"),
    ),
    opt(
        "class_weights",
        [],
        "cross-entropy weight of each class, in class order (none: all 1)",
        "segmentation",
        type=float,
        many=True,
    ),
    opt("ignore_index", 255, "mask value of pixels without a label: no loss, no metric", "segmentation"),
    opt("flip_axes", 0.0, "probability of mirroring each spatial axis, one draw per axis (3D volumes)", "augmentation"),
    opt(
        "draw",
        4,
        "draw image | true mask | predicted mask of this many test examples into <out>/predictions.png",
        "segmentation",
    ),
    opt(
        "predict",
        None,
        "label every image of this folder with --weights, whole (overlap-tile, any size), into <out>/predicted/: "
        "index PNGs and colour overlays; no training",
        "segmentation",
    ),
)

# Ten crops average class scores of whole images; a mask is not a crop-invariant label.
WITHOUT = ("ten_crop", "tta_scale")
