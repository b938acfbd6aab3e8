"""Unit visualisation's own options (the shared ones are in cnnc/tasks/runtime/config.py).

It runs a trained network over a folder of images, trains nothing: of the shared options it keeps the
weights to look at, the batch size, the output folder and the device (WITHOUT drops the rest).
"""

from __future__ import annotations

from ..runtime.config import OPTIONS as SHARED
from ..runtime.config import opt

GROUP = "unit visualisation"
OPTIONS = (
    opt(
        "images",
        None,
        "the images to search: a folder of image files, or a .npz with an array `x` "
        "(N x H x W x C; uint8 0..255 or floats in [0,1])",
        GROUP,
    ),
    opt("layer", None, "the layer whose units to show (a name as `cnnc summary` lists it)", GROUP),
    opt(
        "units", [], "the units (channels) of the layer to show (none: every one, up to 64)", GROUP, type=int, many=True
    ),
    opt(
        "top", 9, "patches per unit: the images whose strongest response of the unit is highest, one patch each", GROUP
    ),
    opt("zoom", 4, "each patch drawn this many times larger in the grid pictures (patches.npz keeps them 1:1)", GROUP),
    opt(
        "normalize",
        "scale",
        "the network's input as the training harness made it: scale (uint8 / 255, other "
        "values / their peak if above 1), standardize (also (x - mean) / std per channel, over these images), none",
        GROUP,
        choices=("scale", "standardize", "none"),
    ),
)
KEEP = ("batch_size", "out", "weights", "device", "threads", "seed")
WITHOUT = tuple(o.name for o in SHARED if o.name not in KEEP)
