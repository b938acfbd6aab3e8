"""`cnnc convert-weights`: a PyTorch state dict <-> a Keras weights file, for one spec.

    cnnc convert-weights SPEC --from torch --to keras model.pt model.weights.h5
    cnnc convert-weights SPEC --from keras --to torch model.weights.h5 model.pt

The spec (with the same --set/--input as the compile) fixes every layout
change; see cnnc/weights.py.  The frameworks are imported only when it runs.

The source may also come from elsewhere: a torchvision state dict (.pth), a
Keras .h5 (keras.applications) or .weights.h5 of the same architecture.  Its
tensors are matched by name where the names are the model's, else by layer
order and shape (cnnc/foreign_weights.py); a file that does not fit is
refused whole.  `cnnc import-weights` does the same and lists every match.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnnc.cli.common import EXIT_ERRORS, EXIT_OK, add_spec_args, checked_analysis
from cnnc.errors import UsageError, writing
from cnnc.foreign_weights import import_weights, write_weights

FRAMEWORKS = ("torch", "keras")
_SOURCE = {"torch": "state dict (.pt/.pth)", "keras": "Keras .h5 or .weights.h5"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    add_spec_args(parser)
    parser.add_argument(
        "--from", dest="source_framework", choices=FRAMEWORKS, required=True, help="the framework that wrote SOURCE"
    )
    parser.add_argument(
        "--to", dest="target_framework", choices=FRAMEWORKS, required=True, help="the framework to write TARGET for"
    )
    parser.add_argument("source", help="weights to read (a .pt/.pth state dict, or Keras .weights.h5 / .h5)")
    parser.add_argument("target", help="weights to write")


def run(args: argparse.Namespace) -> int:
    if args.source_framework == args.target_framework:
        raise UsageError("--from and --to name the same framework")
    if args.target_framework == "keras" and not args.target.endswith(".weights.h5"):
        raise UsageError(f"a Keras weights file must end in .weights.h5, got {args.target!r}")
    if (args.source_framework == "keras") != args.source.endswith(".h5"):
        raise UsageError(
            f"--from {args.source_framework} reads a {_SOURCE[args.source_framework]}, got {args.source!r}"
        )
    analysis = checked_analysis(args)
    if analysis is None:
        return EXIT_ERRORS
    imported = import_weights(analysis.graph, args.source)
    with writing(args.target):
        Path(args.target).parent.mkdir(parents=True, exist_ok=True)
        write_weights(analysis.graph, imported, args.target, args.target_framework)
    print(f"matched {len(imported.matches)} tensors by {imported.by}; wrote {args.target}")
    return EXIT_OK
