"""The task options on the command line, shared by `cnnc train` and `cnnc compile`.

One flag per option of every task (`add_task_options`); the ones given become the defaults
written into the harness's train.py (`task_overrides`), paths made absolute first, so the
build folder runs the same wherever `python train.py` is started from.  A `--weights` that
is not the model's own format is aligned to the spec and written into the build folder
(`prepared_weights`), where train.py then loads it by name.

This module imports the task registry (no framework): `cnnc check`, `summary`, `fmt` and
`graph` never import it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnnc.errors import UsageError, writing
from cnnc.foreign_weights import import_weights, write_weights
from cnnc.tasks import TASKS
from cnnc.tasks.runtime import config

PATH_OPTIONS = ("data", "out", "weights", "ensemble", "content", "style", "images")  # style, visualize: images
_PREFIX = "task_"  # the flags' dest: task_<option>


def add_task_options(parser: argparse.ArgumentParser) -> None:
    """One flag per option of every task (the shared table and each task's own), grouped as the tables say.

    The flags' argparse default is SUPPRESS (only the options given are written into train.py), so
    the help states each option's choices and default itself, per task where the tasks differ.
    """
    per_task = {
        (name, framework): {o.name: o for o in task.option_list(framework)}
        for name, task in TASKS.items()
        for framework in task.frameworks
    }
    every: dict = {}  # the first record of a name wins: the shared table's (a task redefining --optimizer or
    for options in per_task.values():  # --lr checks its own values when its options are converted)
        for option in options.values():
            every.setdefault(option.name, option)
    groups = {name: parser.add_argument_group(f"task options: {name}") for name in config.groups(list(every.values()))}
    for option in every.values():
        defaults = {task: found[option.name].default for (task, _), found in per_task.items() if option.name in found}
        help_text = option.help + _default(defaults)
        kwargs: dict = {"default": argparse.SUPPRESS, "dest": _PREFIX + option.name, "help": help_text}
        if option.type is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif option.many:
            kwargs.update(nargs="*", metavar="FILE")
        elif option.choices:  # every task's choices (style adds lbfgs to the shared optimizers)
            choices = dict.fromkeys(
                c for found in per_task.values() if option.name in found for c in found[option.name].choices or ()
            )
            kwargs.update(metavar="{" + ",".join(choices) + "}")
        else:
            kwargs.update(metavar=option.name.upper().replace("-", "_"))
        groups[option.group].add_argument(option.flag, **kwargs)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value in (None, "", []) else str(value).replace("%", "%%")


def _default(defaults: dict[str, object]) -> str:
    """` (default: x)`, or where tasks differ ` (default: x; detect: y)` (the choices are in the metavar)."""
    shown = {task: _shown(value) for task, value in defaults.items()}
    if not shown:
        return ""
    values = list(shown.values())
    common = max(dict.fromkeys(values), key=values.count)
    others = sorted({f"{task}: {value}" for task, value in shown.items() if value != common})
    return f" (default: {'; '.join([common, *others])})"


def task_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The task options given on the command line, paths made absolute."""
    given = {name[len(_PREFIX) :]: value for name, value in vars(args).items() if name.startswith(_PREFIX)}
    for name in PATH_OPTIONS:
        value = given.get(name)
        if isinstance(value, list):
            given[name] = [str(Path(v).resolve()) for v in value]
        elif value:
            given[name] = str(Path(value).resolve())
    return given


def flags(names: list[str]) -> str:
    """The options as the command line spells them: `--epochs, --lr`."""
    return ", ".join("--" + name.replace("_", "-") for name in names)


def read_by_the_task(task: str | None, target: str, path: str) -> bool:
    """Style transfer on Keras reads keras.applications' own .h5 by layer name itself (its convolutions fit at
    any input size, where aligning the whole file to the spec would stop at fc1)."""
    legacy = path.endswith((".h5", ".hdf5")) and not path.endswith(".weights.h5")
    return task == "style" and target == "keras" and legacy


# weights files of our own runs that the runtime reads as they are (a Keras .npz checkpoint, a whole .keras model)
_NATIVE_ONLY = (".npz", ".keras")


def prepared_weights(graph, path: str, target: str, folder: Path) -> str:
    """The weights file train.py should load: `path` itself where its names are the model's, else `path`
    aligned by structure and written as `folder`/weights/<name>.pt or .weights.h5 (with the list of matches)."""
    if path.endswith(_NATIVE_ONLY):
        return path
    imported = import_weights(graph, path, new_head=True)
    if imported.by == "name" and target == "torch":
        print(f"weights: {path} matches the model by name", flush=True)
        return path
    stem = Path(path).name.removesuffix(".weights.h5").removesuffix(".h5").rsplit(".", 1)[0]
    out = folder / "weights" / (stem + (".pt" if target == "torch" else ".weights.h5"))
    with writing(out):
        write_weights(graph, imported, out, target)
    with writing(out.with_suffix(".matches.txt")):
        out.with_suffix(".matches.txt").write_text("\n".join(imported.report()) + "\n")
    head = f"; new head left as initialised: {', '.join(imported.left)}" if imported.left else ""
    print(
        f"weights: {path} aligned to the spec by {imported.by}: {len(imported.matches)} tensors matched "
        f"(listed in {out.with_suffix('.matches.txt')}){head}; written as {out}",
        flush=True,
    )
    return str(out)


def refuse_without_task(overrides: dict[str, object], target: str) -> None:
    """Task options given to `cnnc compile` without --task: a UsageError naming them (they would be dropped)."""
    if not overrides:
        return
    names = list(overrides)
    what = "is a task option" if len(names) == 1 else "are task options"
    if not any(target in task.frameworks for task in TASKS.values()):
        raise UsageError(
            f"{flags(names)} {what}, and --target {target} writes no training harness "
            "(task options go with --task and --target keras or torch)"
        )
    need = "it needs --task, whose train.py takes it as its default"
    if len(names) > 1:
        need = "they need --task, whose train.py takes them as its defaults"
    onnx = "; --weights without --task is for --target onnx" if "weights" in names else ""
    raise UsageError(f"{flags(names)} {what}: {need}{onnx}")
