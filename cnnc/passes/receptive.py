"""Receptive field per node, along the widest path from any input.

For a window op with effective kernel k and stride s on input with receptive
field r and jump j (distance in input pixels between neighbouring outputs):
r' = r + (k - 1) * j and j' = j * s (Araujo et al., "Computing Receptive
Fields of Convolutional Neural Networks", Distill 2019).  Merges take the
widest input; global pools and dense layers see the whole input.

Where the field of unit 0 starts (in input pixels, negative inside the
padding) goes along: a window padded by p before moves it by -p * j, so unit
i's field is [start + i * j, start + i * j + r - 1] on each axis (kept as
`receptive_start` and `receptive_jump`: unit visualisation cuts its patches
with them).
"""

from __future__ import annotations

from cnnc.ir.graph import Graph, Node
from cnnc.ir.shape_math import pad_pairs, resolve_padding


def run(graph: Graph) -> None:
    jumps: dict[str, tuple[int, ...]] = {}
    for node in graph.topological():
        ids = graph.input_ids(node.id)
        if not ids:
            rank = max(len(node.shape) - 1, 1)
            node.receptive_field, jumps[node.id] = (1,) * rank, (1,) * rank
            node.receptive_start, node.receptive_jump = (0,) * rank, (1,) * rank
            continue
        widest = max(ids, key=lambda i: graph.node(i).receptive_field or ())
        source = graph.node(widest)
        field, jump, start = source.receptive_field, jumps[widest], source.receptive_start
        if node.op.window is not None and len(field) == len(node.shape) - 1:
            kernel, stride = node.op.window(node.attrs, len(field))
            before = _pad_before(node, source.shape[:-1], kernel, stride)
            start = tuple(a - p * j for a, p, j in zip(start, before, jump))
            field = tuple(r + (k - 1) * j for r, k, j in zip(field, kernel, jump))
            jump = tuple(j * s for j, s in zip(jump, stride))
        elif node.op.name == "zeropad" and len(field) == len(node.shape) - 1:
            start = tuple(a - p * j for a, (p, _), j in zip(start, pad_pairs(node.attrs.padding, len(field)), jump))
        node.receptive_field, jumps[node.id] = field, jump
        node.receptive_jump, node.receptive_start = jump, start


def _pad_before(node: Node, sizes: tuple, kernel: tuple, stride: tuple) -> tuple[int, ...]:
    """The padding before the first window on each axis: none (valid), TensorFlow's `same` split (the extra
    pixel at the end, as PyTorch's `same` too), `same_lower`/`causal` (the extra before), or the explicit amount."""
    padding = getattr(node.attrs, "padding", "valid")
    if not isinstance(sizes, tuple) or len(sizes) != len(kernel):
        return (0,) * len(kernel)
    return tuple(p for p, _ in resolve_padding(padding, sizes, kernel, stride))
