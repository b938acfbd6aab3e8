"""Lint over the checked graph: every value used (W0501).

Acyclicity needs no check here: `Graph.add` only accepts inputs already in
the graph, and cycles in the source are reported by the expander (E0401).
"""

from __future__ import annotations

from cnnc.diagnostics import Diagnostic
from cnnc.ir.graph import Graph


def run(graph: Graph) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    outputs = set(graph.outputs.values())
    for node in graph.topological():
        if node.id in outputs or graph.consumers(node.id):
            continue
        what = "input" if node.op.name == "input" else "value"
        label = graph.structure.value_name(node.id) or node.id  # the user's name for it, if any
        found.append(
            Diagnostic(
                "warning",
                "W0501",
                f"{what} `{label}` is never used",
                node.span,
                help=f"use it, or make it an output with `-> output {label.replace('.', '_')}`",
            )
        )
    return found
