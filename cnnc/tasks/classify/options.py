"""Classification's own options (the shared ones are in cnnc/tasks/runtime/config.py)."""

from __future__ import annotations

from ..runtime.config import opt

OPTIONS = (
    opt("aux_weight", 0.3, "loss weight of auxiliary outputs (GoogLeNet: 0.3)", "optimisation"),
    opt(
        "feature_extract",
        False,
        "run the frozen base once, cache its features in <out>/features, train the "
        "head on them (then --epochs of fine-tuning, with --unfreeze-top)",
        "transfer learning",
    ),
    opt("head_epochs", 20, "epochs of head training on cached features", "transfer learning"),
    opt("head_lr", 0.0, "learning rate of head training on cached features (0: --lr)", "transfer learning"),
    opt("top_k", 5, "also report top-k accuracy where there are more than k classes", "evaluation"),
    opt("ten_crop", False, "test-time: average 10 crops (corners, centre, and their mirrors)", "evaluation"),
    opt("tta_scale", 1.14, "10-crop: resize test images by this before cropping (256/224)", "evaluation"),
)
