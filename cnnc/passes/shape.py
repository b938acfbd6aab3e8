"""Shape inference: one op's output shape from its inputs, without a tensor.

The expander calls `infer_shape` as it adds each node, because the graph's
structure may depend on shapes (a block reads `in.c`).
"""

from __future__ import annotations

from cnnc.ir.graph import Node
from cnnc.ir.shape_math import Shape, check_size


def infer_shape(node: Node, input_shapes: list[Shape]) -> Shape:
    """The node's output shape; raises `ShapeError` with the arithmetic."""
    return check_size(tuple(node.op.shape(node.attrs, input_shapes)))
