"""`cnnc summary SPEC [--json]`: the per-layer table, or the same facts as JSON for machines."""

from __future__ import annotations

import argparse
import json

from cnnc.cli.common import EXIT_ERRORS, EXIT_OK, add_spec_args, print_diagnostics, run_analysis
from cnnc.report import summary_json, summary_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_args(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    analysis = run_analysis(args)
    if not analysis.ok:
        print_diagnostics(analysis)
        return EXIT_ERRORS
    if args.json:  # warnings are in the JSON itself; stderr stays empty for a clean spec
        print(json.dumps(summary_json(analysis), indent=1))
    else:
        print_diagnostics(analysis)
        print(summary_table(analysis))
    return EXIT_OK
