"""`cnnc check SPEC`: diagnostics, and one line of totals when the spec is clean.

`--strict` fails the check (exit 1) on any warning or note as well: each is reported as an
error, with a line saying so.  Notes are weaker than warnings, so a strict mode that refused
notes and let warnings through would make no sense; one switch covers both.
"""

from __future__ import annotations

import argparse

from cnnc.cli.common import EXIT_ERRORS, EXIT_OK, add_spec_args, print_diagnostics, run_analysis


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_args(parser)
    parser.add_argument(
        "--strict",
        action="store_true",
        help="treat warnings (W codes) and notes (N codes) as errors: exit 1 on any of them",
    )


def run(args: argparse.Namespace) -> int:
    analysis = run_analysis(args)
    if args.strict:
        for diag in analysis.diagnostics:
            if not diag.is_error:
                diag.notes.append(f"`--strict` makes this {diag.level} an error")
                diag.level = "error"
    print_diagnostics(analysis)
    if not analysis.ok:
        return EXIT_ERRORS
    graph, cost = analysis.graph, analysis.cost
    print(f"ok: {graph.name}: {len(graph)} layers, {cost.params.total:,} params, {cost.macs:,} MACs")
    return EXIT_OK
