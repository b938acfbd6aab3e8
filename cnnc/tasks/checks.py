"""The checks that every task's plan makes of a spec's inputs and output, each with the task's own code.

A task needs one input of the ranks it reads (an image, or also a volume) and trains one output; what it
then asks of that output (its width, its activation) is the task's own business, in its plan.py.
"""

from __future__ import annotations

from cnnc.diagnostics import Diagnostic
from cnnc.ir.graph import Graph, Node


def input_problem(graph: Graph, task: str, code: str, what: str, example: str, ranks: tuple[int, ...] = (3,)):
    """A Diagnostic at the network when it does not have exactly one input of one of `ranks`, else None."""
    shapes = [graph.node(nid).shape for nid in graph.inputs.values()]
    if len(shapes) == 1 and len(shapes[0]) in ranks:
        return None
    return Diagnostic(
        "error", code, f"task `{task}` needs {what}", graph.span, help=f"declare one input such as `{example}`"
    )


def the_output(graph: Graph, task: str, code: str, keep: str) -> tuple[str, Node, object, Diagnostic | None]:
    """(name, node, span) of the first output, and a Diagnostic at it when the network has several."""
    name, nid = next(iter(graph.outputs.items()))
    end, span = graph.node(nid), graph.output_spans.get(name)
    problem = None
    if len(graph.outputs) != 1:
        problem = Diagnostic(
            "error",
            code,
            f"task `{task}` trains one output, the network has {len(graph.outputs)}",
            span,
            help=f"keep only {keep}",
        )
    return name, end, span, problem
