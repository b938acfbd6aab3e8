"""The `cnnc` command line.

Exit status: 0 clean (warnings allowed), 1 the spec has errors, 2 bad usage or
unreadable input.  `check` and `summary` import no framework; the verbs that
need one import it when they run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from cnnc.compiler import Analysis, analyze
from cnnc.diagnostics import render_all

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
_SHAPE = re.compile(r"^\d+(x\d+)*$")


class UsageError(Exception):
    pass


def parse_value(text: str) -> object:
    """A `--set` value: int, float, true/false, a shape like 224x224x3, or a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if re.fullmatch(r"[-+]?\d+", text.strip()):
        return int(text)
    if _SHAPE.match(text.strip()) and "x" in text:
        return tuple(int(d) for d in text.strip().split("x"))
    try:
        return float(text)
    except ValueError:
        return text


def parse_sets(items: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise UsageError(f"--set takes name=value, got {item!r}")
        out[name.strip()] = parse_value(value)
    return out


def parse_inputs(items: list[str]) -> dict[str | None, tuple[int, ...]]:
    out: dict[str | None, tuple[int, ...]] = {}
    for item in items:
        name, sep, shape = item.rpartition("=")
        if not _SHAPE.match(shape) or any(int(d) < 1 for d in shape.split("x")):
            raise UsageError(f"--input takes a shape like 512x512x3 (or name=512x512x3), got {item!r}")
        out[name if sep else None] = tuple(int(d) for d in shape.split("x"))
    return out


def run_analysis(args: argparse.Namespace) -> Analysis:
    return analyze(Path(args.spec), network=args.network, overrides=parse_sets(args.set),
                   input_shapes=parse_inputs(args.input))


def _print_diagnostics(analysis: Analysis) -> None:
    if analysis.diagnostics:
        print(render_all(analysis.diagnostics, analysis.sources), file=sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    analysis = run_analysis(args)
    _print_diagnostics(analysis)
    if not analysis.ok:
        return EXIT_ERRORS
    graph = analysis.graph
    p = analysis.cost.params
    print(f"ok: {graph.name}: {len(graph)} layers, {p.total:,} params, {analysis.cost.macs:,} MACs")
    return EXIT_OK


def cmd_summary(args: argparse.Namespace) -> int:
    from cnnc.report import summary_json, summary_table

    analysis = run_analysis(args)
    if not analysis.ok:
        _print_diagnostics(analysis)
        return EXIT_ERRORS
    if args.json:
        print(json.dumps(summary_json(analysis), indent=1))
    else:
        _print_diagnostics(analysis)
        print(summary_table(analysis))
    return EXIT_OK


def _add_spec_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="the .cnn file")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a network parameter (repeatable)")
    parser.add_argument("--input", action="append", default=[], metavar="[NAME=]SHAPE",
                        help="check at another input shape, e.g. 512x512x3 (repeatable)")
    parser.add_argument("--network", help="which network of the file (default: its only one)")


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"check": cmd_check, "summary": cmd_summary}


def build_parser(extensions: list[Callable] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnc", description="A compiler for convolutional neural networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="report diagnostics only")
    _add_spec_args(check)
    summary = sub.add_parser("summary", help="per-layer shapes, parameters and MACs")
    _add_spec_args(summary)
    summary.add_argument("--json", action="store_true", help="machine-readable output")
    for extend in extensions:
        extend(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Verbs that need a framework live in cnnc.backends.commands; that module is
    # light, and the frameworks are imported only when such a verb runs.
    from cnnc.backends import commands

    parser = build_parser(commands.SUBPARSERS)
    handlers = {**COMMANDS, **commands.COMMANDS}
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    try:
        return handlers[args.command](args)
    except UsageError as exc:
        print(f"cnnc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, UnicodeDecodeError) as exc:
        what = getattr(exc, "filename", None) or getattr(args, "spec", "")
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        print(f"cnnc: error: cannot read {what}: {reason}", file=sys.stderr)
        return EXIT_USAGE


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
