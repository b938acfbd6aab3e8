"""`cnnc convert-weights`: a PyTorch state dict <-> a Keras weights file, for one spec.

    cnnc convert-weights SPEC --from torch --to keras model.pt model.weights.h5
    cnnc convert-weights SPEC --from keras --to torch model.weights.h5 model.pt

The spec (with the same --set/--input as the compile) fixes every layout
change; see cnnc/weights.py.  The frameworks are imported only when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

FRAMEWORKS = ("torch", "keras")


def add_parser(sub: argparse._SubParsersAction) -> None:
    from cnnc.cli import _add_spec_args

    parser = sub.add_parser("convert-weights", help="convert saved weights between the PyTorch and Keras models")
    _add_spec_args(parser)
    parser.add_argument("--from", dest="source_framework", choices=FRAMEWORKS, required=True)
    parser.add_argument("--to", dest="target_framework", choices=FRAMEWORKS, required=True)
    parser.add_argument("source", help="weights to read (.pt state dict, or Keras .weights.h5)")
    parser.add_argument("target", help="weights to write")


def run(args: argparse.Namespace) -> int:
    from cnnc.cli import EXIT_ERRORS, EXIT_OK, UsageError, _print_diagnostics, run_analysis

    if args.source_framework == args.target_framework:
        raise UsageError("--from and --to name the same framework")
    keras_file = args.target if args.target_framework == "keras" else args.source
    if not keras_file.endswith(".weights.h5"):
        raise UsageError(f"a Keras weights file must end in .weights.h5, got {keras_file!r}")
    analysis = run_analysis(args)
    _print_diagnostics(analysis)
    if not analysis.ok:
        return EXIT_ERRORS
    from cnnc.weights import convert_file

    Path(args.target).parent.mkdir(parents=True, exist_ok=True)
    convert_file(analysis.graph, args.source, args.target, args.source_framework, args.target_framework)
    print(f"wrote {args.target}")
    return EXIT_OK
