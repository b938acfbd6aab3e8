"""The options shared by every training harness: one table, read by cnnc and by the scripts.

cnnc reads this table (as `cnnc.tasks.runtime.config`) to check option values
and to write a script's defaults; the script reads its copy to build its
command line.  An option is one record: its name, default, help line, group,
and the frameworks it applies to.  Every option here applies to every task; a
task adds its own records in its folder (`cnnc/tasks/<task>/options.py`:
`OPTIONS`) and names the shared ones that make no sense for it (`WITHOUT`).
"""

from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass
from typing import Any

BOTH = ("torch", "keras")


@dataclass(frozen=True)
class Option:
    name: str
    default: Any
    help: str
    group: str
    type: type = str  # of one value; bools are switches (--x / --no-x), lists take several values
    choices: tuple = ()
    frameworks: tuple[str, ...] = BOTH
    many: bool = False  # a list of values

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def opt(name: str, default: Any, help: str, group: str, **kw) -> Option:
    """An option record, its type taken from its default (a task's options.py makes its own with this)."""
    if "type" not in kw and default is not None and not isinstance(default, list):
        kw["type"] = type(default)
    return Option(name, default, help, group, **kw)


GROUPS = ("data", "augmentation", "optimisation", "training care", "transfer learning", "evaluation", "scale")
# a task may add groups of its own; they are shown after these

OPTIONS: tuple[Option, ...] = (
    # data
    opt("data", None, "the data: a folder or label file in the task's format, or a .npz file", "data"),
    opt("split", "0.7,0.1,0.2", "train,validation,test fractions: stratified (as the task says), seeded", "data"),
    opt(
        "normalize",
        "scale",
        "scale: pixels to [0,1]; center: also subtract the training mean; standardize: also divide by the training std",
        "data",
        choices=("scale", "center", "standardize", "none"),
    ),
    opt("batch_size", 32, "examples per step (over all processes)", "data"),
    opt("workers", -1, "background loader workers (-1: auto: 0 for in-memory data without augmentation)", "data"),
    opt("skip_corrupt", False, "leave out unreadable images (listed) instead of stopping", "data"),
    # augmentation: each 0 = off
    opt("flip", 0.0, "probability of a horizontal mirror (the width axis; a signal's time axis)", "augmentation"),
    opt(
        "flip_vertical", 0.0, "probability of a vertical mirror (the height axis of images and volumes)", "augmentation"
    ),
    opt("flip_depth", 0.0, "probability of a mirror along the depth axis (3D volumes)", "augmentation"),
    opt("crop", 0, "random crop: pad by this many pixels (reflect), crop back at a random place", "augmentation"),
    opt("rotate", 0.0, "random rotation, up to this many degrees either way", "augmentation"),
    opt("shear", 0.0, "random shear, up to this many degrees either way", "augmentation"),
    opt(
        "zoom",
        0.0,
        "random zoom by up to this fraction in or out (signals and volumes: a stretch along every axis)",
        "augmentation",
    ),
    opt("shift", 0.0, "random shift by up to this fraction of the size, each axis", "augmentation"),
    opt(
        "amplitude",
        0.0,
        "multiply the values by a random factor within 1 +- this (a signal's amplitude)",
        "augmentation",
    ),
    opt("color_shift", 0.0, "add a random offset up to this to each channel (pixels in [0,1])", "augmentation"),
    opt(
        "pca_color",
        0.0,
        "AlexNet PCA colour: std of the random weights of the RGB eigenvectors (paper: 0.1)",
        "augmentation",
    ),
    opt("brightness", 0.0, "random brightness offset up to this (pixels in [0,1])", "augmentation"),
    opt("contrast", 0.0, "random contrast factor within 1 +- this", "augmentation"),
    opt("noise", 0.0, "std of added Gaussian noise (pixels in [0,1])", "augmentation"),
    # optimisation
    opt("epochs", 10, "epochs to train (in all, counting resumed ones)", "optimisation"),
    opt(
        "optimizer", "sgd", "the update rule", "optimisation", choices=("sgd", "adam", "rmsprop", "adagrad", "adadelta")
    ),
    opt("lr", 0.01, "learning rate", "optimisation"),
    opt("momentum", 0.9, "SGD momentum", "optimisation"),
    opt("nesterov", False, "Nesterov momentum (SGD)", "optimisation"),
    opt("weight_decay", 0.0, "L2 weight decay: adds weight_decay * w to each gradient", "optimisation"),
    opt("l1", 0.0, "L1 penalty: adds l1 * sum |w| to the loss", "optimisation"),
    opt(
        "schedule",
        "constant",
        "learning-rate schedule, set each epoch",
        "optimisation",
        choices=("constant", "step", "cosine", "exponential", "plateau"),
    ),
    opt("lr_step", 10, "step: epochs between decays; plateau: epochs without improvement", "optimisation"),
    opt("lr_gamma", 0.1, "step, exponential, plateau: the decay factor", "optimisation"),
    opt("warmup", 0, "epochs of linear warm-up before the schedule", "optimisation"),
    # training care
    opt("seed", 0, "seed of the split, the weights, the shuffling, augmentation and dropout", "training care"),
    opt("out", "run", "folder for checkpoints, log.csv, curves.png, metrics.json", "training care"),
    opt("resume", False, "continue from <out>/last checkpoint", "training care"),
    opt("patience", 0, "early stopping: epochs without improvement of --monitor (0: off)", "training care"),
    opt(
        "monitor",
        "val_loss",
        "the metric for early stopping, the best checkpoint and plateau: any column of "
        "log.csv (val_ or train_ and a metric of the task; names ending in loss are better lower)",
        "training care",
    ),
    opt(
        "stop_after",
        0,
        "end this run after so many epochs, as if interrupted (0: off); --resume goes on",
        "training care",
    ),
    opt("max_loss_ratio", 100.0, "stop when a step's loss exceeds this times the first steps' loss", "training care"),
    opt(
        "progress",
        "auto",
        "auto: a bar on a terminal, one line per epoch otherwise",
        "training care",
        choices=("auto", "bar", "epoch", "none"),
    ),
    # transfer learning
    opt(
        "weights",
        None,
        "start from these weights (matched by layer name; mismatched shapes are reported "
        "and left as initialised, e.g. a head for another number of classes)",
        "transfer learning",
    ),
    opt("reset_head", False, "re-initialise the head even where its shape matches", "transfer learning"),
    opt(
        "freeze_below",
        None,
        "freeze every layer with weights before this one (a layer with weights)",
        "transfer learning",
    ),
    opt(
        "unfreeze_top",
        -1,
        "freeze all but the head and this many weighted layers below it (-1: off)",
        "transfer learning",
    ),
    # evaluation
    opt(
        "ensemble",
        [],
        "evaluate the average prediction of these weight files on the test split, then stop",
        "evaluation",
        type=str,
        many=True,
    ),
    opt("eval_only", False, "evaluate --weights on the test split without training", "evaluation"),
    # scale
    opt("device", "auto", "auto, cpu, cuda, cuda:1, mps", "scale", frameworks=("torch",)),
    opt("amp", "auto", "mixed precision: auto (on for CUDA), on, off", "scale", choices=("auto", "on", "off")),
    opt("threads", 0, "intra-op CPU threads (0: the framework's choice)", "scale"),
    opt(
        "init",
        "keras",
        "keras: the layers' own initialisers (Glorot); torch: PyTorch's default initialisation of "
        "convolutions and dense layers, so that the same options train alike in both frameworks",
        "optimisation",
        frameworks=("keras",),
        choices=("keras", "torch"),
    ),
    opt(
        "strategy",
        "auto",
        "tf.distribute strategy: auto (mirrored over several GPUs), none, mirrored, "
        "multi_worker, cpu2 (mirrored over 2 logical CPU devices, for testing)",
        "scale",
        frameworks=("keras",),
        choices=("auto", "none", "mirrored", "multi_worker", "cpu2"),
    ),
)

BY_NAME = {option.name: option for option in OPTIONS}


def options_for(framework: str, own: tuple[Option, ...] = (), without: tuple[str, ...] = ()) -> list[Option]:
    """A task's options for one framework: the shared ones (less `without`, which a task may then redefine
    with defaults of its own), then the task's `own`."""
    shared = [o for o in OPTIONS if o.name not in without]
    return [o for o in shared + list(own) if framework in o.frameworks]


def task_options(module) -> tuple[tuple[Option, ...], tuple[str, ...]]:
    """(own, without) of a task's options module (OPTIONS and WITHOUT, both optional)."""
    return tuple(getattr(module, "OPTIONS", ())), tuple(getattr(module, "WITHOUT", ()))


def defaults(options: list[Option]) -> dict[str, Any]:
    return {o.name: (list(o.default) if o.many else o.default) for o in options}


def groups(options: list[Option]) -> list[str]:
    """The shared groups, then any group a task adds, in order of first use."""
    extra = [o.group for o in options if o.group not in GROUPS]
    return list(GROUPS) + list(dict.fromkeys(extra))


def convert(option: Option, text: Any) -> Any:
    """A value for `option` from text (command line) or from Python (already typed): ValueError if wrong."""
    if option.many:
        values = text if isinstance(text, (list, tuple)) else [v for v in str(text).split(",") if v]
        return [option.type(v) for v in values]
    if text is None:
        return None
    if option.type is bool:
        if isinstance(text, bool):
            return text
        lowered = str(text).strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ValueError(f"--{option.name} takes true or false, got {text!r}")
        return lowered in ("true", "1", "yes", "on")
    if option.type is float and isinstance(text, int):
        return float(text)
    value = option.type(text)
    if option.choices and value not in option.choices:
        raise ValueError(f"--{option.name} takes one of {', '.join(option.choices)}, got {text!r}")
    return value


def build_parser(options: list[Option], values: dict[str, Any], description: str) -> argparse.ArgumentParser:
    """The script's command line: every option of the task, defaults from the script's CONFIG."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    sections = {name: parser.add_argument_group(name) for name in groups(options)}
    for option in options:
        default = values.get(option.name, option.default)
        shown = f" (default: {default})" if default not in (None, [], "") else ""
        kwargs: dict[str, Any] = {"default": default, "help": option.help + shown, "dest": option.name}
        if option.type is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif option.many:
            kwargs.update(nargs="*", type=option.type, metavar="FILE")
        else:
            kwargs.update(type=option.type, metavar=option.name.upper())
            if option.choices:
                kwargs.update(choices=option.choices, metavar="{" + ",".join(option.choices) + "}")
        sections[option.group].add_argument(option.flag, **kwargs)
    return parser


def parse(options: list[Option], values: dict[str, Any], argv: list[str] | None, description: str = ""):
    """The run's configuration: the script's CONFIG overridden by the command line."""
    return build_parser(options, values, description).parse_args(argv)


def split_fractions(text: str) -> tuple[float, float, float]:
    parts = [float(p) for p in text.replace("/", ",").split(",")]
    if len(parts) != 3 or any(p < 0 for p in parts) or sum(parts) <= 0:
        raise ValueError(f"--split takes three fractions such as 0.7,0.1,0.2, got {text!r}")
    total = sum(parts)
    return parts[0] / total, parts[1] / total, parts[2] / total


class ConfigError(Exception):
    """Options that do not fit together or do not fit the model, reported as one message."""


def layers_to_freeze(layers: tuple[str, ...], cfg, head_layer: str | None) -> list[str]:
    """--freeze-below LAYER, or --unfreeze-top N (all but the head and the N weighted layers below it).

    `layers` is the spec's order of layers with weights (LAYERS in train.py), the same in both
    frameworks, so one option freezes the same layers in each."""
    if cfg.freeze_below and cfg.unfreeze_top >= 0:
        raise ConfigError("give --freeze-below or --unfreeze-top, not both")
    layers = list(layers)
    if cfg.freeze_below:
        return layers[: _layer_index(cfg.freeze_below, layers, "--freeze-below")]
    if cfg.unfreeze_top >= 0:
        top = _layer_index(head_layer, layers, "the head layer") if head_layer else len(layers) - 1
        return layers[: max(0, top - cfg.unfreeze_top)]
    return []


def _layer_index(name: str, layers: list[str], option: str) -> int:
    if name not in layers:
        close = difflib.get_close_matches(name, layers, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; layers: {', '.join(layers[:40])}"
        raise ConfigError(f"{option}: the model has no layer with weights named `{name}`{hint}")
    return layers.index(name)
