"""Graph invariants and lint: acyclic, every value used.

The expander cannot build a cycle, but graphs built by other means can, and
backends rely on a DAG; unused values are warnings (W0501).
"""

from __future__ import annotations

import networkx as nx

from cnnc.diagnostics import Diagnostic, Label
from cnnc.ir.graph import Graph


def run(graph: Graph, value_names: dict[str, str] | None = None) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if not nx.is_directed_acyclic_graph(graph.nx):
        cycle = [graph.node(u) for u, _ in nx.find_cycle(graph.nx)]
        found.append(Diagnostic(
            "error", "E0401", "cycle: " + " -> ".join(f"`{n.id}`" for n in cycle + cycle[:1]), cycle[0].span,
            labels=[Label(n.span, f"`{n.id}`") for n in cycle[1:]]))
        return found
    outputs = set(graph.outputs.values())
    names = value_names or {}
    for node in graph.nodes():
        if node.id in outputs or graph.nx.out_degree(node.id):
            continue
        what = "input" if node.op.name == "input" else "value"
        label = names.get(node.id, node.id)
        found.append(Diagnostic(
            "warning", "W0501", f"{what} `{label}` is never used", node.span,
            help=f"use it, or make it an output with `-> output {label.replace('.', '_')}`"))
    return found
