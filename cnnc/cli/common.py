"""What every verb that reads a spec shares: its arguments, the analysis, and printing diagnostics."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from cnnc.compiler import Analysis, analyze
from cnnc.diagnostics import render_all, use_color
from cnnc.errors import UsageError
from cnnc.limits import MAX_LITERAL_CHARS

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
_SHAPE = re.compile(r"^\d+(x\d+)*$")


def add_spec_args(parser: argparse.ArgumentParser) -> None:
    """The spec file and what changes it from the command line: --set, --input, --network."""
    parser.add_argument("spec", help="the .cnn file")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="override a network parameter (repeatable)"
    )
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="[NAME=]SHAPE",
        help="check at another input shape, e.g. 512x512x3 (repeatable)",
    )
    parser.add_argument("--network", help="which network of the file (default: its only one)")


TARGET_HELP = (
    "what to write: torch (a PyTorch nn.Module in model.py), keras (a Keras model function in model.py), "
    "onnx (model.onnx, with weights)"
)


def parse_value(text: str) -> object:
    """A `--set` value: int, float, true/false, a shape like 224x224x3, or a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if re.fullmatch(r"[-+]?\d+", text.strip()):
        return _number(text)
    if _SHAPE.match(text.strip()) and "x" in text:
        return tuple(_number(d) for d in text.strip().split("x"))
    try:
        return float(text)
    except ValueError:
        return text


def _number(text: str) -> int:
    # Its length is checked before conversion: Python refuses to convert more than 4,300 digits.
    # A shorter number out of range is the analysis's to refuse (E0601), as in a spec.
    text = text.strip()
    if len(text) > MAX_LITERAL_CHARS:
        raise UsageError(
            f"the number {text[:20]}... is out of range ({len(text):,} digits; cnnc's numbers stay below 2^62)"
        )
    return int(text)


def parse_sets(items: list[str]) -> dict[str, object]:
    """`--set name=value` items as parameter overrides."""
    out: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise UsageError(f"--set takes name=value, got {item!r}")
        out[name.strip()] = parse_value(value)
    return out


def parse_inputs(items: list[str]) -> dict[str | None, tuple[int, ...]]:
    """`--input [name=]shape` items as input shapes (None: the network's only input)."""
    out: dict[str | None, tuple[int, ...]] = {}
    for item in items:
        name, sep, shape = item.rpartition("=")
        if not _SHAPE.match(shape) or any(_number(d) < 1 for d in shape.split("x")):
            raise UsageError(f"--input takes a shape like 512x512x3 (or name=512x512x3), got {item[:60]!r}")
        out[name if sep else None] = tuple(_number(d) for d in shape.split("x"))
    return out


def run_analysis(args: argparse.Namespace) -> Analysis:
    """The spec named by `add_spec_args`'s arguments, analysed (diagnostics not yet printed)."""
    overrides, input_shapes = parse_sets(args.set), parse_inputs(args.input)
    return analyze(Path(args.spec), network=args.network, overrides=overrides, input_shapes=input_shapes)


def print_diagnostics(analysis: Analysis) -> None:
    """Every diagnostic of the analysis, rendered with its source line, on stderr."""
    if analysis.diagnostics:
        print(render_all(analysis.diagnostics, analysis.sources, use_color(sys.stderr)), file=sys.stderr)


def checked_analysis(args: argparse.Namespace) -> Analysis | None:
    """The analysis with its diagnostics printed; None if the spec has errors (the verb exits 1)."""
    analysis = run_analysis(args)
    print_diagnostics(analysis)
    return analysis if analysis.ok else None
