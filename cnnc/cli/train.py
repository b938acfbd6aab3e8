"""`cnnc train`: compile a spec with its task harness into a build folder, then run it.

The task's options are flags of `cnnc train` too (and of `cnnc compile`: see
cli/task_options.py); the ones given become the defaults written into the
build folder's train.py, so `python train.py` in that folder repeats (or, with
--resume, continues) the same run.  Paths given here (--data, --out, --weights,
--ensemble) are made absolute first.

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
import signal
import subprocess
import sys
from pathlib import Path

from cnnc import build
from cnnc.cli.common import EXIT_ERRORS, TARGET_HELP, add_spec_args, checked_analysis
from cnnc.cli.compile import harness_files
from cnnc.cli.task_options import add_task_options, task_overrides
from cnnc.errors import UsageError
from cnnc.tasks import TASKS
from cnnc.tasks.runtime.loop import EXIT_INTERRUPTED  # what train.py returns after Ctrl-C


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    add_spec_args(parser)
    parser.add_argument("--target", choices=sorted(build.TARGETS), required=True, help=TARGET_HELP)
    parser.add_argument("--task", choices=sorted(TASKS), default="classify", help="the task")
    parser.add_argument("--build", metavar="DIR", help="build folder (default: build/<spec>-<target>)")
    parser.add_argument("--nproc", type=int, default=1, metavar="N", help="torch: run under torchrun with N processes")
    add_task_options(parser)


def run(args: argparse.Namespace) -> int:
    analysis = checked_analysis(args)
    if analysis is None:
        return EXIT_ERRORS
    folder = Path(args.build or Path("build") / f"{Path(args.spec).stem}-{args.target}").resolve()
    overrides = {"out": str(folder / "run"), **task_overrides(args)}
    if args.nproc > 1 and args.target != "torch":
        raise UsageError("--nproc is for --target torch; Keras takes --strategy")
    files = harness_files(analysis, build.CompileOptions(args.target, args.task, overrides), folder)
    if files is None:
        return EXIT_ERRORS
    build.write_atomically(files, folder)
    print(f"compiled into {folder}", flush=True)
    script = TASKS[args.task].script  # train.py, or the task's own (visualize.py)
    command = [sys.executable, script]
    if args.nproc > 1:
        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={args.nproc}", script]
    status = _run_script(command, folder)
    if status in (EXIT_INTERRUPTED, -signal.SIGINT) and script == "train.py":
        print(f"continue with: cd {folder} && python train.py --resume", file=sys.stderr)
    return EXIT_INTERRUPTED if status == -signal.SIGINT else status


GRACE_SECONDS = 60.0  # after Ctrl-C, the script's time to finish its files before it is killed


def _run_script(command: list[str], folder: Path) -> int:
    """The script's exit status.  Ctrl-C reaches the script too (one process group): it writes what it has (the
    last picture, its one-line message) and ends, so this waits for it instead of killing it at once; a second
    Ctrl-C, or the grace time passing, kills it."""
    proc = subprocess.Popen(command, cwd=folder, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    try:
        return proc.wait()
    except KeyboardInterrupt:
        try:
            return proc.wait(timeout=GRACE_SECONDS)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
            return EXIT_INTERRUPTED
