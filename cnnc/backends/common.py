"""Framework-neutral helpers for backends: layouts, padding and the params a model takes.

The IR keeps shapes channels-last without the batch (`h x w x c`); PyTorch is
channels-first.  Padding is resolved here once to explicit (before, after)
pairs per spatial axis, with TensorFlow's rule for `same`, so every backend
pads exactly alike.
"""

from __future__ import annotations

from collections import defaultdict

from cnnc.ir.calls import Branch, Structure
from cnnc.ir.graph import Graph, Node
from cnnc.ir.ops import transpose_geometry
from cnnc.ir.shape_math import Shape, pad_pairs, per_dim, resolve_padding

Pairs = tuple[tuple[int, int], ...]


def channels_first(shape: Shape) -> Shape:
    """(h, w, c) -> (c, h, w); flat shapes stay as they are."""
    return shape if len(shape) < 2 else (shape[-1],) + tuple(shape[:-1])


def channels_first_axis(axis: int, rank: int) -> int:
    """An axis of a channels-last shape of `rank` dims (batch excluded) as a channels-first dim (batch = 0)."""
    axis %= rank
    if rank == 1:
        return 1
    return 1 if axis == rank - 1 else axis + 2


def uniform(values: tuple) -> int | tuple:
    """A per-axis tuple as one int when every axis agrees (how frameworks like it written)."""
    return values[0] if values and all(v == values[0] for v in values) else tuple(values)


def symmetric(pairs: Pairs) -> bool:
    return all(before == after for before, after in pairs)


def window_geometry(node: Node, in_shape: Shape) -> tuple[tuple, tuple, tuple, Pairs]:
    """(kernel, stride, dilation, padding pairs) of a conv-like or pooling node, per spatial axis."""
    attrs, rank = node.attrs, len(in_shape) - 1
    kernel = per_dim(attrs.size if hasattr(attrs, "size") else attrs.kernel, rank, "kernel")
    stride_value = attrs.stride if attrs.stride is not None else attrs.size
    stride = per_dim(stride_value, rank, "stride")
    dilation = per_dim(getattr(attrs, "dilation", 1), rank, "dilation")
    return kernel, stride, dilation, resolve_padding(attrs.padding, in_shape[:-1], kernel, stride, dilation)


def transpose_crops(attrs, sizes: Shape) -> tuple[tuple, tuple, tuple, Pairs]:
    """(kernel, stride, dilation, crop pairs) of a transposed convolution: the IR's output is the
    full output (n - 1) * s + d * (k - 1) + 1 with `before` cells cropped at the start and `after`
    at the end (a negative `after` adds cells there).  `same` crops as TensorFlow does, the odd
    cell at the end; explicit padding crops its own (before, after)."""
    rank = len(sizes)
    window, stride, out = transpose_geometry(attrs, sizes)
    explicit = None if attrs.padding in ("same", "valid") else pad_pairs(attrs.padding, rank)
    pairs = []
    for axis, (n, f, s, o) in enumerate(zip(sizes, window, stride, out)):
        total = (n - 1) * s + f - o
        before = explicit[axis][0] if explicit else max(total, 0) // 2
        pairs.append((before, total - before))
    kernel, dilation = per_dim(attrs.kernel, rank, "kernel"), per_dim(attrs.dilation, rank, "dilation")
    return kernel, stride, dilation, tuple(pairs)


def constructor_params(graph: Graph) -> dict[str, list[tuple[str, str]]]:
    """Network params that can be constructor arguments: {param: [(node id, attribute), ...]}.

    The IR marks a param non-structural when it only feeds attributes directly;
    that alone is not enough (`conv(width, 3) -> conv(8, 3)`: the second conv's
    input width follows `width`), so a binding also has to leave every shape
    after it unchanged.  A param with any other binding is resolved at compile time.
    """
    uses: dict[str, list[tuple[str, str]]] = {}
    blocked: set[str] = set()
    for node in graph.topological():
        for attr, param in node.bindings.items():
            if param not in graph.params or graph.params[param].structural:
                continue
            if _free_binding(graph, node, attr):
                uses.setdefault(param, []).append((node.id, attr))
            else:
                blocked.add(param)
    return {p: sites for p, sites in uses.items() if p not in blocked}


def width_takers(graph: Graph, node: Node) -> list[str] | None:
    """The layers whose input width is `node`'s width (through ops that pass it on), or None when
    some layer after it would change shape with it (a conv's input channels, a flatten of a map)."""
    takers: list[str] = []
    pending = list(graph.consumers(node.id))
    while pending:
        consumer = graph.node(pending.pop())
        width = graph.node(graph.input_ids(consumer.id)[0]).shape
        if consumer.op.takes_width:
            # its input must be the width itself (a flatten of a 2x2 map would be 4 times it)
            if width != (node.shape[-1],) or consumer.shares or _is_shared(graph, consumer):
                return None
            takers.append(consumer.id)
        elif not consumer.op.passes_width:
            return None
        else:
            pending += graph.consumers(consumer.id)
    return takers


def input_widths(graph: Graph) -> dict[str, str]:
    """{layer id: param} for layers whose input width is a constructor argument (`dense(k) -> dense(k)`)."""
    usable = constructor_params(graph)
    widths: dict[str, str] = {}
    for param, sites in usable.items():
        for node_id, attr in sites:
            node = graph.node(node_id)
            if attr == node.op.width_attr:
                widths.update(dict.fromkeys(width_takers(graph, node) or [], param))
    return widths


def _free_binding(graph: Graph, node: Node, attr: str) -> bool:
    if attr in node.op.shape_free_attrs:
        return True
    if node.op.width_attr != attr or node.shares or _is_shared(graph, node):
        return False
    return width_takers(graph, node) is not None


def _is_shared(graph: Graph, node: Node) -> bool:
    return any(other.shares == node.id for other in graph.topological())


def optional_branches(structure: Structure, classes_of: dict[str, int]) -> dict[int, Branch]:
    """{id(call): the optional `if` its block's calls differ by}, for blocks whose calls (two or
    more, each its own class) differ in exactly one `if` without `else` run once in their body."""
    per_call: dict[int, list[Branch]] = defaultdict(list)
    for branch in structure.branches:
        call = branch.call
        if call is not None and not call.group and call.shares is None and not branch.within:
            per_call[id(call)].append(branch)
    truths: dict[str, dict[object, set[bool]]] = defaultdict(lambda: defaultdict(set))
    for call in structure.calls:
        spans = [b.span for b in per_call.get(id(call), ())]
        for branch in per_call.get(id(call), ()):
            # an `if` run twice in one body (an anonymous block's) has no one place in its class
            truths[call.block][branch.span].add(branch.taken if spans.count(branch.span) == 1 else None)
    chosen: dict[int, Branch] = {}
    for call in structure.calls:
        if classes_of.get(call.block, 0) < 2:
            continue
        varying = [span for span, seen in truths[call.block].items() if len(seen) > 1]
        if len(varying) != 1 or None in truths[call.block][varying[0]]:
            continue
        branch = next((b for b in per_call.get(id(call), ()) if b.span == varying[0]), None)
        if branch is not None and branch.optional:
            chosen[id(call)] = branch
    return chosen


def free_name(base: str, taken: set[str]) -> str:
    """The flag of an optional part: `base` (`downsample`), `with_base` where that is taken, then `_`s."""
    name = base if base not in taken else f"with_{base}"
    while name in taken:
        name += "_"
    return name
