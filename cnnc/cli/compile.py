"""`cnnc compile SPEC --target torch|keras|onnx [--task T [task options]] [--weights FILE] -o DIR`: write the model
(and the training harness).

With --task, the task options are those of `cnnc train` and mean the same: the ones given become the
defaults written into train.py (paths made absolute first), and the layer names some tasks take are
checked against the spec here.  --weights is the weights of model.onnx for --target onnx, and for
--target torch or keras with --task the weights train.py starts from (aligned to the spec and written
into the output folder where their names are not the model's, as `cnnc train` does).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from cnnc import build
from cnnc.cli.common import EXIT_ERRORS, EXIT_OK, TARGET_HELP, add_spec_args, checked_analysis, print_diagnostics
from cnnc.cli.task_options import (
    add_task_options,
    prepared_weights,
    read_by_the_task,
    refuse_without_task,
    task_overrides,
)
from cnnc.compiler import Analysis
from cnnc.diagnostics import CnncError
from cnnc.tasks import TASKS

_ONNX_WEIGHTS = (
    "--target onnx: the weights of model.onnx, a .pt state dict or checkpoint of the generated PyTorch model or "
    "a harness .npz (default: initialised as PyTorch would); --target torch or keras, with --task: "
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    add_spec_args(parser)
    parser.add_argument("--target", choices=sorted(build.TARGETS), required=True, help=TARGET_HELP)
    parser.add_argument(
        "--task",
        metavar="{" + ",".join(sorted(TASKS)) + "}",  # not choices=: the library's message for another names them too
        help="also write train.py, the training harness for this task, with the task options given below as its "
        "defaults (default: the model alone)",
    )
    parser.add_argument("-o", "--output", default="build", metavar="DIR", help="output folder")
    add_task_options(parser)
    weights = next(action for action in parser._actions if action.dest == "task_weights")
    weights.help = _ONNX_WEIGHTS + (weights.help or "")


def generate_or_report(analysis: Analysis, options: build.CompileOptions) -> dict[str, str] | None:
    """The compile's files; None, with the diagnostics printed, if the spec does not fit the task."""
    try:
        return build.generate(analysis, options)
    except CnncError as exc:
        print_diagnostics(Analysis(analysis.graph, exc.diagnostics, analysis.sources))
        return None


def harness_files(analysis: Analysis, options: build.CompileOptions, folder: Path) -> dict[str, str] | None:
    """`generate_or_report`, with the task's --weights (if any) aligned to the spec and written into `folder`
    where train.py cannot load it by name; that happens only once the spec is known to fit the task."""
    files = generate_or_report(analysis, options)
    weights = options.task_options.get("weights")
    if files is None or not isinstance(weights, str) or read_by_the_task(options.task, options.target, weights):
        return files
    prepared = prepared_weights(analysis.graph, weights, options.target, folder)
    if prepared == weights:
        return files
    return generate_or_report(analysis, replace(options, task_options={**options.task_options, "weights": prepared}))


def run(args: argparse.Namespace) -> int:
    overrides = task_overrides(args)
    weights = None
    if args.target in build.WEIGHTED_TARGETS and "weights" in overrides:
        weights = Path(str(overrides.pop("weights")))  # the model's own weights, not a task option
    if not args.task:
        refuse_without_task(overrides, args.target)
    analysis = checked_analysis(args)
    if analysis is None:
        return EXIT_ERRORS
    folder = Path(args.output)
    files = harness_files(analysis, build.CompileOptions(args.target, args.task, overrides, weights), folder.resolve())
    if files is None:
        return EXIT_ERRORS
    for path in build.write_atomically(files, folder):
        print(f"wrote {path}")
    return EXIT_OK
