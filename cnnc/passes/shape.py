"""Shape inference: one op's output shape from its inputs, without a tensor.

The expander calls `infer_shape` as it adds each node, because the graph's
structure may depend on shapes (a block reads `in.c`).  `run` re-checks a
whole graph, for graphs built by other means.
"""

from __future__ import annotations

from cnnc.ir.graph import Graph, Node
from cnnc.ir.shape_math import Shape, check_size


def infer_shape(node: Node, input_shapes: list[Shape]) -> Shape:
    """The node's output shape; raises `ShapeError` with the arithmetic."""
    return check_size(tuple(node.op.shape(node.attrs, input_shapes)))


def run(graph: Graph) -> None:
    for node in graph.topological():
        node.shape = infer_shape(node, [graph.node(i).shape for i in graph.input_ids(node.id)])
