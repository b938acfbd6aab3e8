"""`cnnc graph SPEC -o net.svg|.png|.dot [--depth N]`: a picture of the network.

Layers are nodes (name, op, output shape, parameters), edges run in data order, every block
call is a cluster; `--depth N` draws the calls N levels down as one node each.  `.dot` is
Graphviz's text; `.svg` and `.png` are laid out by graphviz-pure (`pip install cnnc[graph]`),
never by a system Graphviz.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnnc.cli.common import EXIT_ERRORS, EXIT_OK, add_spec_args, checked_analysis
from cnnc.draw.dot import network_dot
from cnnc.draw.render import FORMATS, render
from cnnc.errors import UsageError, writing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_args(parser)
    parser.add_argument("-o", "--output", type=Path, required=True, help="the picture: net.svg, net.png or net.dot")
    parser.add_argument(
        "--depth",
        type=int,
        metavar="N",
        help="draw the block calls N levels down as one node each (1: the network's own blocks)",
    )


def run(args: argparse.Namespace) -> int:
    suffix = args.output.suffix.lower()
    if suffix not in (*FORMATS, ".dot"):
        raise UsageError(f"-o takes a .svg, .png or .dot file, got {args.output}")
    if args.depth is not None and args.depth < 1:
        raise UsageError(f"--depth takes a level of 1 or more, got {args.depth}")
    analysis = checked_analysis(args)
    if analysis is None:
        return EXIT_ERRORS
    dot = network_dot(analysis.graph, args.depth)
    picture = dot if suffix == ".dot" else render(dot, suffix)
    with writing(args.output):
        args.output.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(picture, str):
            args.output.write_text(picture, encoding="utf-8")
        else:
            args.output.write_bytes(picture)
    print(f"wrote {args.output}")
    return EXIT_OK
