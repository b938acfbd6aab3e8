"""The `cnnc` command line: one module per verb, imported only when that verb runs.

Exit status: 0 clean (warnings allowed), 1 the spec has errors, 2 bad usage or
unreadable input.  `VERBS` maps each verb to its module; a verb module has
`add_arguments(parser)` and `run(args) -> int`.  Only the module of the verb
being run is imported, so `cnnc check` and `cnnc summary` never load the
code (nor the frameworks) that `compile` and `train` need.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cnnc.cli.common import EXIT_OK, EXIT_USAGE
from cnnc.errors import UsageError

# verb -> (module, one line for `cnnc --help`)
VERBS: dict[str, tuple[str, str]] = {
    "check": ("cnnc.cli.check", "report diagnostics only"),
    "summary": ("cnnc.cli.summary", "per-layer shapes, parameters and MACs"),
    "compile": ("cnnc.cli.compile", "write PyTorch or Keras source (and a training script)"),
    "convert-weights": ("cnnc.cli.convert_weights", "convert saved weights between the PyTorch and Keras models"),
    "train": ("cnnc.cli.train", "compile with a task harness into a build folder and run it"),
}


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """Every verb is listed; only `verb`'s module is imported, to add its arguments and its `run`."""
    parser = argparse.ArgumentParser(prog="cnnc", description="A compiler for convolutional neural networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, summary) in VERBS.items():
        verb_parser = sub.add_parser(name, help=summary, description=summary)
        if name == verb:
            module = importlib.import_module(module_name)
            module.add_arguments(verb_parser)
            verb_parser.set_defaults(run=module.run)
    return parser


def _verb_in(argv: Sequence[str]) -> str | None:
    """The verb argparse will pick: the first word that is not an option (the top level takes only -h)."""
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    return word if word in VERBS else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_verb_in(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"cnnc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, UnicodeDecodeError) as exc:
        what = getattr(exc, "filename", None) or getattr(args, "spec", "")
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        print(f"cnnc: error: cannot read {what}: {reason}", file=sys.stderr)
        return EXIT_USAGE


def entry() -> None:
    """The `cnnc` console script."""
    sys.exit(main())
