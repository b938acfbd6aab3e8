"""`cnnc train`: compile a spec with its task harness into a build folder, then run it.

The task's options are flags of `cnnc train` too; the ones given become the
defaults written into the build folder's train.py, so `python train.py` in
that folder repeats (or, with --resume, continues) the same run.  Paths given
here (--data, --out, --weights, --ensemble) are made absolute first.

`--weights` may be a torchvision state dict or a Keras .h5/.weights.h5 of the
same architecture: its tensors are aligned to the spec's model here, where the
spec is known (by name where the names are the model's, else by layer order and
shape; see cnnc/foreign_weights.py), and written into the build folder as the
target's own weights, which train.py then loads by name (a head for another
number of classes is left as initialised).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from cnnc import build
from cnnc.cli.common import EXIT_ERRORS, EXIT_USAGE, TARGET_HELP, add_spec_args, checked_analysis
from cnnc.cli.compile import generate_or_report
from cnnc.errors import UsageError, writing
from cnnc.foreign_weights import import_weights, write_weights
from cnnc.tasks import TASKS
from cnnc.tasks.runtime import config

_PATH_OPTIONS = ("data", "out", "weights", "ensemble", "content", "style", "images")  # style, visualize: images


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    add_spec_args(parser)
    parser.add_argument("--target", choices=sorted(build.TARGETS), required=True, help=TARGET_HELP)
    parser.add_argument("--task", choices=sorted(TASKS), default="classify", help="the task")
    parser.add_argument("--build", metavar="DIR", help="build folder (default: build/<spec>-<target>)")
    parser.add_argument("--nproc", type=int, default=1, metavar="N", help="torch: run under torchrun with N processes")
    _add_task_options(parser)


def _add_task_options(parser: argparse.ArgumentParser) -> None:
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
        kwargs: dict = {"default": argparse.SUPPRESS, "dest": f"task_{option.name}", "help": help_text}
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
    given = {name[len("task_") :]: value for name, value in vars(args).items() if name.startswith("task_")}
    for name in _PATH_OPTIONS:
        value = given.get(name)
        if isinstance(value, list):
            given[name] = [str(Path(v).resolve()) for v in value]
        elif value:
            given[name] = str(Path(value).resolve())
    return given


def run(args: argparse.Namespace) -> int:
    analysis = checked_analysis(args)
    if analysis is None:
        return EXIT_ERRORS
    folder = Path(args.build or Path("build") / f"{Path(args.spec).stem}-{args.target}").resolve()
    overrides = {"out": str(folder / "run"), **task_overrides(args)}
    if overrides.get("weights") and not _read_by_the_task(args, overrides["weights"]):
        overrides["weights"] = prepared_weights(analysis.graph, overrides["weights"], args.target, folder)
    if args.nproc > 1 and args.target != "torch":
        raise UsageError("--nproc is for --target torch; Keras takes --strategy")
    files = generate_or_report(analysis, build.CompileOptions(args.target, args.task, overrides))
    if files is None:
        return EXIT_ERRORS
    build.write_atomically(files, folder)
    print(f"compiled into {folder}", flush=True)
    script = TASKS[args.task].script  # train.py, or the task's own (visualize.py)
    command = [sys.executable, script]
    if args.nproc > 1:
        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={args.nproc}", script]
    try:
        return subprocess.call(command, cwd=folder, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    except KeyboardInterrupt:
        print(f"interrupted; continue with: cd {folder} && python train.py --resume", file=sys.stderr)
        return EXIT_USAGE


def _read_by_the_task(args: argparse.Namespace, path: str) -> bool:
    """Style transfer on Keras reads keras.applications' own .h5 by layer name itself (its convolutions fit at
    any input size, where aligning the whole file to the spec would stop at fc1)."""
    legacy = path.endswith((".h5", ".hdf5")) and not path.endswith(".weights.h5")
    return args.task == "style" and args.target == "keras" and legacy


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
