"""The `cnnc` command line: one module per verb, imported only when that verb runs.

Exit status: 0 clean (warnings and notes allowed), 1 the spec has errors, 2 bad
usage (bare `cnnc` included: it prints the help, but ran nothing), unreadable input
or an output that cannot be written, 141 the reader of the output went away
(`cnnc summary X | head -1`: the shell's status for a process ended by SIGPIPE).
`VERBS` maps each verb to its module; a verb module has
`add_arguments(parser)` and `run(args) -> int`.  Only the module of the verb
being run is imported, so `cnnc check` and `cnnc summary` never load the
code (nor the frameworks) that `compile` and `train` need.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from cnnc import __version__
from cnnc.cli.common import EXIT_OK, EXIT_USAGE
from cnnc.errors import UsageError, WriteError

EXIT_BROKEN_PIPE = 128 + 13  # as if killed by SIGPIPE, like the Unix tools in a pipeline


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions kept as written; every option's help ends with its default (when it has one)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default in (None, False, [], argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


# verb -> (module, one line for `cnnc --help`)
VERBS: dict[str, tuple[str, str]] = {
    "check": ("cnnc.cli.check", "report diagnostics only"),
    "summary": ("cnnc.cli.summary", "per-layer shapes, parameters and MACs"),
    "compile": ("cnnc.cli.compile", "write PyTorch or Keras source (and a training script)"),
    "convert-weights": ("cnnc.cli.convert_weights", "convert saved weights between the PyTorch and Keras models"),
    "import-weights": ("cnnc.cli.import_weights", "align a torchvision or Keras weights file to a spec's model"),
    "train": ("cnnc.cli.train", "compile with a task harness into a build folder and run it"),
    "fmt": ("cnnc.cli.fmt", "rewrite specs in the canonical layout (--check for CI, --diff to review)"),
    "graph": ("cnnc.cli.graph", "draw the network: layers, data edges, block calls (.svg, .png, .dot)"),
}


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """Every verb is listed; only `verb`'s module is imported, to add its arguments and its `run`."""
    parser = argparse.ArgumentParser(
        prog="cnnc",
        description="A compiler for convolutional neural networks.",
        epilog="`cnnc VERB --help` lists a verb's options.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cnnc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, summary) in VERBS.items():
        verb_parser = sub.add_parser(name, help=summary, description=summary, formatter_class=HelpFormatter)
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
    if not argv:  # a person exploring: show what there is (status 2: no command ran)
        parser.print_help()
        return EXIT_USAGE
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"cnnc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except WriteError as exc:
        print(f"cnnc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        raise  # the reader went away: `entry` ends quietly
    except (OSError, UnicodeDecodeError) as exc:
        what = getattr(exc, "filename", None) or getattr(args, "spec", "")
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        print(f"cnnc: error: cannot read {what}: {reason}", file=sys.stderr)
        return EXIT_USAGE


def entry() -> None:
    """The `cnnc` console script."""
    try:
        status = main()
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
    except BrokenPipeError:
        # The reader stopped reading (`| head`): end quietly.  Point stdout at /dev/null so the
        # interpreter's own flush at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = EXIT_BROKEN_PIPE
    sys.exit(status)
