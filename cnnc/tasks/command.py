"""`cnnc train`: compile a spec with its task harness into a build folder, then run it.

The task's options are flags of `cnnc train` too; the ones given become the
defaults written into the build folder's train.py, so `python train.py` in
that folder repeats (or, with --resume, continues) the same run.  Paths given
here (--data, --out, --weights, --ensemble) are made absolute first.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from cnnc.tasks.runtime import config

_PATH_OPTIONS = ("data", "out", "weights", "ensemble")


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    from cnnc.backends.commands import TARGETS
    from cnnc.cli import _add_spec_args
    from cnnc.tasks import TASKS

    parser = sub.add_parser("train", help="compile with a task harness into a build folder and run it",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_spec_args(parser)
    parser.add_argument("--target", choices=sorted(TARGETS), required=True)
    parser.add_argument("--task", choices=sorted(TASKS), default="classify", help="the task (default: classify)")
    parser.add_argument("--build", help="build folder (default: build/<spec>-<target>)")
    parser.add_argument("--nproc", type=int, default=1, help="torch: run under torchrun with this many processes")
    every = {o.name: o for task in TASKS.values() for f in task.frameworks for o in task.option_list(f)}
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
    given = {name[len("task_"):]: value for name, value in vars(args).items() if name.startswith("task_")}
    for name in _PATH_OPTIONS:
        if given.get(name):
            value = given[name]
            given[name] = [str(Path(v).resolve()) for v in value] if isinstance(value, list) else \
                str(Path(value).resolve())
    return given


def run_train(args: argparse.Namespace) -> int:
    from cnnc.backends.commands import CompileOptions, generate, write_atomically
    from cnnc.cli import EXIT_ERRORS, EXIT_USAGE, UsageError, _print_diagnostics, run_analysis
    from cnnc.compiler import Analysis
    from cnnc.diagnostics import CnncError

    analysis = run_analysis(args)
    _print_diagnostics(analysis)
    if not analysis.ok:
        return EXIT_ERRORS
    build = Path(args.build or Path("build") / f"{Path(args.spec).stem}-{args.target}").resolve()
    overrides = {"out": str(build / "run"), **task_overrides(args)}
    if args.nproc > 1 and args.target != "torch":
        raise UsageError("--nproc is for --target torch; Keras takes --strategy")
    try:
        files = generate(analysis, CompileOptions(args.target, args.task, overrides))
    except CnncError as exc:
        _print_diagnostics(Analysis(analysis.graph, exc.diagnostics, analysis.sources))
        return EXIT_ERRORS
    write_atomically(files, build)
    print(f"compiled into {build}", flush=True)
    command = [sys.executable, "train.py"]
    if args.nproc > 1:
        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={args.nproc}", "train.py"]
    try:
        return subprocess.call(command, cwd=build, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    except KeyboardInterrupt:
        print(f"interrupted; continue with: cd {build} && python train.py --resume", file=sys.stderr)
        return EXIT_USAGE
