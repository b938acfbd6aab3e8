"""`cnnc compile SPEC --target torch|keras [--task T] -o DIR`: write the model (and the training harness)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cnnc import build
from cnnc.cli.common import EXIT_ERRORS, EXIT_OK, add_spec_args, checked_analysis, print_diagnostics
from cnnc.compiler import Analysis
from cnnc.diagnostics import CnncError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_args(parser)
    parser.add_argument("--target", choices=sorted(build.TARGETS), required=True)
    parser.add_argument("--task", help="also write a training harness for this task (e.g. classify)")
    parser.add_argument("-o", "--output", default="build", help="output folder (default: build)")


def generate_or_report(analysis: Analysis, options: build.CompileOptions) -> dict[str, str] | None:
    """The compile's files; None, with the diagnostics printed, if the spec does not fit the task."""
    try:
        return build.generate(analysis, options)
    except CnncError as exc:
        print_diagnostics(Analysis(analysis.graph, exc.diagnostics, analysis.sources))
        return None


def run(args: argparse.Namespace) -> int:
    analysis = checked_analysis(args)
    if analysis is None:
        return EXIT_ERRORS
    files = generate_or_report(analysis, build.CompileOptions(args.target, args.task))
    if files is None:
        return EXIT_ERRORS
    for path in build.write_atomically(files, Path(args.output)):
        print(f"wrote {path}")
    return EXIT_OK
