"""Localization's own options (the shared ones are in cnnc/tasks/runtime/config.py)."""

from __future__ import annotations

from ..runtime.config import opt

OPTIONS = (
    opt(
        "loss",
        "squared",
        "squared: the material's squared error on every component where there is an object, "
        "on pc alone where not; logistic: pc by binary cross-entropy, the classes by cross-entropy, the box by "
        "squared error",
        "localization",
        choices=("squared", "logistic"),
    ),
    opt(
        "draw",
        8,
        "draw the predicted boxes of this many test images into <out>/predictions.png (0: none)",
        "localization",
    ),
)
