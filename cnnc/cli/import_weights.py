"""`cnnc import-weights`: a torchvision / Keras weights file -> the weights of a spec's generated model.

    cnnc import-weights specs/resnet18.cnn resnet18.pth -o resnet18_cnnc.pt
    cnnc import-weights specs/mobilenet_v2.cnn mobilenet_v2.weights.h5 -o mnv2.pt --target torch

The file's names need not match: its tensors are aligned to the spec's layers
with weights by order and shape (see cnnc/foreign_weights.py), every tensor
taken is listed, and a file whose structure differs is refused whole (exit 2,
naming the layer and both shapes).  OUT is the target's own format: a PyTorch
state dict (.pt) or a Keras .weights.h5.
"""

from __future__ import annotations

import argparse

from cnnc.cli.common import EXIT_ERRORS, EXIT_OK, add_spec_args, checked_analysis
from cnnc.errors import UsageError, writing
from cnnc.foreign_weights import import_weights, write_weights


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    add_spec_args(parser)
    parser.add_argument("file", help="weights to read: a PyTorch state dict (.pth/.pt), a Keras .h5 or .weights.h5")
    parser.add_argument("-o", "--out", required=True, help="weights to write (.pt for torch, .weights.h5 for keras)")
    parser.add_argument("--target", choices=("torch", "keras"), default="torch", help="the model they are for")
    parser.add_argument(
        "--new-head",
        action="store_true",
        help="the last layer with weights may differ in shape (another number of classes)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not list every tensor matched")


def run(args: argparse.Namespace) -> int:
    if args.target == "keras" and not args.out.endswith(".weights.h5"):
        raise UsageError(f"a Keras weights file must end in .weights.h5, got {args.out!r}")
    analysis = checked_analysis(args)
    if analysis is None:
        return EXIT_ERRORS
    imported = import_weights(analysis.graph, args.file, new_head=args.new_head)
    if not args.quiet:
        for line in imported.report():
            print(f"  {line}")
    with writing(args.out):
        write_weights(analysis.graph, imported, args.out, args.target)
    print(f"matched {len(imported.matches)} tensors of {args.file} by {imported.by}; wrote {args.out}")
    return EXIT_OK
