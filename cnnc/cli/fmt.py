"""`cnnc fmt SPEC...`: rewrite specs in the canonical layout; `--check` for CI, `--diff` to review.

With `--check` or `--diff` nothing is written.  Exit status: 0 when every file is (or now is)
formatted, 1 when `--check` finds one that would change or a spec has a syntax error, 2 when
a file cannot be read.  `-` formats standard input to standard output (for editors).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from cnnc.cli.common import EXIT_ERRORS, EXIT_OK
from cnnc.diagnostics import CnncError, SourceCache, render_all, use_color
from cnnc.errors import UsageError, writing
from cnnc.expand.loader import read_source
from cnnc.limits import MAX_SOURCE_BYTES
from cnnc.syntax.fmt import FormatError, format_source


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="the .cnn files (`-`: standard input)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    parser.add_argument("--diff", action="store_true", help="write nothing; print what would change as a diff")


def formatted(name: str, text: str) -> str | None:
    """The spec in the canonical layout; None, with the reason printed, if it cannot be formatted."""
    try:
        return format_source(text, name)
    except CnncError as exc:
        sources = SourceCache()
        sources.add(name, text)
        print(render_all(exc.diagnostics, sources, use_color(sys.stderr)), file=sys.stderr)
    except FormatError as exc:  # cnnc's own bug: refuse rather than change what the spec means
        print(f"cnnc: error: {name}: not formatted: {exc}", file=sys.stderr)
    return None


def _read_stdin() -> str:
    # At most the limit plus one character: a stream has no size to check first.
    text = sys.stdin.read(MAX_SOURCE_BYTES + 1)
    if len(text) > MAX_SOURCE_BYTES:
        raise UsageError(f"standard input is larger than {MAX_SOURCE_BYTES >> 20} MiB")
    return text


def run(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for name in args.specs:
        text = _read_stdin() if name == "-" else read_source(Path(name))
        result = formatted(name, text)
        if result is None:
            status = EXIT_ERRORS
        elif name == "-" and not (args.check or args.diff):
            sys.stdout.write(result)
        elif result != text:
            status = max(status, EXIT_ERRORS if args.check else EXIT_OK)
            _report(name, text, result, args)
    return status


def _report(name: str, text: str, result: str, args: argparse.Namespace) -> None:
    if args.diff:
        sys.stdout.writelines(
            difflib.unified_diff(
                text.splitlines(True), result.splitlines(True), f"{name} (original)", f"{name} (formatted)"
            )
        )
    if args.check:
        print(f"would reformat {name}", file=sys.stderr)
    elif not args.diff:
        with writing(name):
            Path(name).write_text(result, encoding="utf-8")
        print(f"reformatted {name}", file=sys.stderr)
