"""`cnnc convert-weights`: a PyTorch state dict <-> a Keras weights file, for one spec.

    cnnc convert-weights SPEC --from torch --to keras model.pt model.weights.h5
    cnnc convert-weights SPEC --from keras --to torch model.weights.h5 model.pt

The spec (with the same --set/--input as the compile) fixes every layout
change; see cnnc/weights.py.  The frameworks are imported only when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnnc.cli.common import EXIT_ERRORS, EXIT_OK, add_spec_args, checked_analysis
from cnnc.errors import UsageError
from cnnc.weights import convert_file

FRAMEWORKS = ("torch", "keras")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_spec_args(parser)
    parser.add_argument("--from", dest="source_framework", choices=FRAMEWORKS, required=True)
    parser.add_argument("--to", dest="target_framework", choices=FRAMEWORKS, required=True)
    parser.add_argument("source", help="weights to read (.pt state dict, or Keras .weights.h5)")
    parser.add_argument("target", help="weights to write")


def run(args: argparse.Namespace) -> int:
    if args.source_framework == args.target_framework:
        raise UsageError("--from and --to name the same framework")
    keras_file = args.target if args.target_framework == "keras" else args.source
    if not keras_file.endswith(".weights.h5"):
        raise UsageError(f"a Keras weights file must end in .weights.h5, got {keras_file!r}")
    analysis = checked_analysis(args)
    if analysis is None:
        return EXIT_ERRORS
    Path(args.target).parent.mkdir(parents=True, exist_ok=True)
    convert_file(analysis.graph, args.source, args.target, args.source_framework, args.target_framework)
    print(f"wrote {args.target}")
    return EXIT_OK
