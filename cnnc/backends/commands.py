"""Command-line verbs that need a framework (compile, and the verbs built on it).

Each backend is a module with `generate(analysis, options) -> dict[str, str]`
(file name -> source); it is imported only when the verb runs, so
`cnnc check` and `cnnc summary` never load torch or tensorflow.
"""

from __future__ import annotations

import argparse
import importlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cnnc.backends import convert

TARGETS = {"torch": "cnnc.backends.torch", "keras": "cnnc.backends.keras"}


@dataclass
class CompileOptions:
    target: str
    task: str | None = None
    task_options: dict[str, object] = field(default_factory=dict)


def generate(analysis, options: CompileOptions) -> dict[str, str]:
    """All files of a compile: the model module, plus the task harness if asked for."""
    backend = importlib.import_module(TARGETS[options.target])
    files = dict(backend.generate(analysis, options))
    if options.task:
        from cnnc import tasks

        files.update(tasks.generate(analysis, options))
    return files


def write_atomically(files: dict[str, str], out_dir: Path) -> list[Path]:
    """Write every file or none: each goes to a temp file first, then replaces its target whole."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    try:
        for name, text in sorted(files.items()):
            target = out_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            staged.append((tmp, target))
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    for tmp, target in staged:
        os.replace(tmp, target)
    return [target for _, target in staged]


def cmd_compile(args: argparse.Namespace) -> int:
    from cnnc.cli import EXIT_ERRORS, EXIT_OK, _print_diagnostics, run_analysis
    from cnnc.compiler import Analysis
    from cnnc.diagnostics import CnncError

    analysis = run_analysis(args)
    _print_diagnostics(analysis)
    if not analysis.ok:
        return EXIT_ERRORS
    options = CompileOptions(args.target, args.task)
    try:
        files = generate(analysis, options)
    except CnncError as exc:  # the spec does not fit the task
        _print_diagnostics(Analysis(analysis.graph, exc.diagnostics, analysis.sources))
        return EXIT_ERRORS
    written = write_atomically(files, Path(args.output))
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def _add_compile(sub: argparse._SubParsersAction) -> None:
    from cnnc.cli import _add_spec_args

    parser = sub.add_parser("compile", help="write PyTorch or Keras source (and a training script)")
    _add_spec_args(parser)
    parser.add_argument("--target", choices=sorted(TARGETS), required=True)
    parser.add_argument("--task", help="also write a training harness for this task (e.g. classify)")
    parser.add_argument("-o", "--output", default="build", help="output folder (default: build)")


def _add_train(sub: argparse._SubParsersAction) -> None:
    from cnnc.tasks.command import add_train_parser

    add_train_parser(sub)


def cmd_train(args: argparse.Namespace) -> int:
    from cnnc.tasks.command import run_train

    return run_train(args)


SUBPARSERS: list[Callable[[argparse._SubParsersAction], None]] = [_add_compile, convert.add_parser, _add_train]
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "compile": cmd_compile, "convert-weights": convert.run, "train": cmd_train,
}
