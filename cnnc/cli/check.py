"""`cnnc check SPEC`: diagnostics, and one line of totals when the spec is clean."""

from __future__ import annotations

import argparse

from cnnc.cli.common import EXIT_ERRORS, EXIT_OK, add_spec_args, checked_analysis


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_args(parser)


def run(args: argparse.Namespace) -> int:
    analysis = checked_analysis(args)
    if analysis is None:
        return EXIT_ERRORS
    graph, cost = analysis.graph, analysis.cost
    print(f"ok: {graph.name}: {len(graph)} layers, {cost.params.total:,} params, {cost.macs:,} MACs")
    return EXIT_OK
