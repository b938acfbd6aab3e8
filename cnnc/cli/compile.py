"""`cnnc compile SPEC --target torch|keras|onnx [--task T] [--weights FILE] -o DIR`: write the model (and the
training harness)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cnnc import build
from cnnc.cli.common import EXIT_ERRORS, EXIT_OK, TARGET_HELP, add_spec_args, checked_analysis, print_diagnostics
from cnnc.compiler import Analysis
from cnnc.diagnostics import CnncError
from cnnc.tasks import TASKS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_args(parser)
    parser.add_argument("--target", choices=sorted(build.TARGETS), required=True, help=TARGET_HELP)
    parser.add_argument(
        "--task",
        metavar="{" + ",".join(sorted(TASKS)) + "}",  # not choices=: the library's message for another names them too
        help="also write train.py, the training harness for this task (default: the model alone)",
    )
    parser.add_argument("-o", "--output", default="build", metavar="DIR", help="output folder")
    parser.add_argument(
        "--weights",
        type=Path,
        metavar="FILE",
        help="ONNX: the weights, a .pt state dict or checkpoint of the generated PyTorch model or a "
        "harness .npz (default: initialised as PyTorch would)",
    )


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
    files = generate_or_report(analysis, build.CompileOptions(args.target, args.task, weights=args.weights))
    if files is None:
        return EXIT_ERRORS
    for path in build.write_atomically(files, Path(args.output)):
        print(f"wrote {path}")
    return EXIT_OK
