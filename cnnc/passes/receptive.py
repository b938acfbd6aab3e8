"""Receptive field per node, along the widest path from any input.

For a window op with effective kernel k and stride s on input with receptive
field r and jump j (distance in input pixels between neighbouring outputs):
r' = r + (k - 1) * j and j' = j * s (Araujo et al., "Computing Receptive
Fields of Convolutional Neural Networks", Distill 2019).  Merges take the
widest input; global pools and dense layers see the whole input.
"""

from __future__ import annotations

from cnnc.ir.graph import Graph


def run(graph: Graph) -> None:
    jumps: dict[str, tuple[int, ...]] = {}
    for node in graph.topological():
        ids = graph.input_ids(node.id)
        if not ids:
            rank = max(len(node.shape) - 1, 1)
            node.receptive_field, jumps[node.id] = (1,) * rank, (1,) * rank
            continue
        widest = max(ids, key=lambda i: graph.node(i).receptive_field or ())
        field, jump = graph.node(widest).receptive_field, jumps[widest]
        if node.op.window is not None and len(field) == len(node.shape) - 1:
            kernel, stride = node.op.window(node.attrs, len(field))
            field = tuple(r + (k - 1) * j for r, k, j in zip(field, kernel, jump))
            jump = tuple(j * s for j, s in zip(jump, stride))
        node.receptive_field, jumps[node.id] = field, jump
