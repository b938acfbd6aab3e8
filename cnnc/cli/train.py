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
from cnnc.cli.common import EXIT_ERRORS, EXIT_USAGE, add_spec_args, checked_analysis
from cnnc.cli.compile import generate_or_report
from cnnc.errors import UsageError
from cnnc.foreign_weights import import_weights, write_weights
from cnnc.tasks import TASKS
from cnnc.tasks.runtime import config

_PATH_OPTIONS = ("data", "out", "weights", "ensemble", "content", "style", "images")  # style, visualize: images


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_spec_args(parser)
    parser.add_argument("--target", choices=sorted(build.TARGETS), required=True)
    parser.add_argument("--task", choices=sorted(TASKS), default="classify", help="the task (default: classify)")
    parser.add_argument("--build", help="build folder (default: build/<spec>-<target>)")
    parser.add_argument("--nproc", type=int, default=1, help="torch: run under torchrun with this many processes")
    _add_task_options(parser)


def _add_task_options(parser: argparse.ArgumentParser) -> None:
    """One flag per option of every task (the shared table and each task's own), grouped as the tables say."""
    every: dict = {}  # the first record of a name wins: the shared table's (a task redefining --optimizer or
    for task in TASKS.values():  # --lr checks its own values when its options are converted)
        for framework in task.frameworks:
            for option in task.option_list(framework):
                every.setdefault(option.name, option)
    groups = {name: parser.add_argument_group(f"task options: {name}") for name in config.groups(list(every.values()))}
    for option in every.values():
        kwargs: dict = {"default": argparse.SUPPRESS, "dest": f"task_{option.name}", "help": option.help}
        if option.type is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif option.many:
            kwargs.update(nargs="*", metavar="FILE")
        else:
            kwargs.update(metavar=option.name.upper())
        groups[option.group].add_argument(option.flag, **kwargs)


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
    write_weights(graph, imported, out, target)
    out.with_suffix(".matches.txt").write_text("\n".join(imported.report()) + "\n")
    head = f"; new head left as initialised: {', '.join(imported.left)}" if imported.left else ""
    print(
        f"weights: {path} aligned to the spec by {imported.by}: {len(imported.matches)} tensors matched "
        f"(listed in {out.with_suffix('.matches.txt')}){head}; written as {out}",
        flush=True,
    )
    return str(out)
