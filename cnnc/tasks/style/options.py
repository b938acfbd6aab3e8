"""Style transfer's own options (the shared ones are in cnnc/tasks/runtime/config.py).

Style transfer optimises an image, not weights over a dataset: of the shared options it keeps only the
run's seed, output folder, start weights (the feature network's) and the device; the rest (data, split,
augmentation, epochs, freezing) have nothing to act on and are left out (WITHOUT).
"""

from __future__ import annotations

from ..runtime.config import OPTIONS as SHARED
from ..runtime.config import opt

GROUP = "style transfer"
PREPROCESS_HELP = (
    "what the weights were trained on: imagenet ((x - mean) / std per RGB channel, x in [0,1]: "
    "torchvision's), caffe (255 x in BGR order minus the mean pixel: Keras VGG's), none"
)
OPTIONS = (
    opt("content", None, "the content image C (any size: resized to the network's input, and said)", GROUP),
    opt("style", None, "the style image S (any size: resized to the network's input, and said)", GROUP),
    opt(
        "content_layer",
        None,
        "the layer whose activations a(C), a(G) the content cost compares (a name as `cnnc summary` lists it)",
        GROUP,
    ),
    opt(
        "style_layers",
        [],
        "the layers whose Gram matrices the style cost compares (names as `cnnc summary` lists them)",
        GROUP,
        type=str,
        many=True,
    ),
    opt(
        "style_weights",
        [],
        "lambda of each style layer, in the order of --style-layers (none: equal, summing to 1)",
        GROUP,
        type=float,
        many=True,
    ),
    opt("alpha", 10.0, "weight of the content cost in J(G) = alpha J_content + beta J_style", GROUP),
    opt("beta", 40.0, "weight of the style cost in J(G) = alpha J_content + beta J_style", GROUP),
    opt(
        "init_image",
        "mix",
        "G at step 0: noise (uniform in [0,1]), content (C itself), or mix "
        "(noise_ratio * noise + (1 - noise_ratio) * C)",
        GROUP,
        choices=("noise", "content", "mix"),
    ),
    opt("noise_ratio", 0.6, "mix: the share of noise in the first G", GROUP),
    opt(
        "optimizer",
        "adam",
        "adam (the framework's, on the pixels), or lbfgs (scipy's L-BFGS-B, pixels kept in [0,1]; Gatys et al.)",
        GROUP,
        choices=("adam", "lbfgs"),
    ),
    opt("lr", 0.02, "Adam's learning rate, pixels in [0,1]", GROUP),
    opt("steps", 200, "optimisation steps (L-BFGS: iterations)", GROUP),
    opt("log_every", 10, "print the three costs every so many steps", GROUP),
    opt("image_every", 50, "save G as <out>/step_NNNN.png (and the state to resume from) every so many steps", GROUP),
    *(
        opt(
            "preprocess",
            default,
            PREPROCESS_HELP,
            GROUP,
            choices=("imagenet", "caffe", "none"),
            frameworks=(framework,),
        )
        for framework, default in (("torch", "imagenet"), ("keras", "caffe"))
    ),
)
KEEP = ("seed", "out", "resume", "weights", "device", "threads")
WITHOUT = tuple(o.name for o in SHARED if o.name not in KEEP)
