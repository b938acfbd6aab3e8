"""Input rows and columns that no window reads (N0001).

A strided window whose last step does not reach the end of its input drops the remainder:
AlexNet's 11x11 stride-4 conv on 224x224 reads 223 rows.  It is legal and common in stems,
so this is a note, with the arithmetic; `cnnc check --strict` makes it an error.

Only windows at least as wide as their stride are looked at: a narrower one (ResNet's 1x1
stride-2 shortcut) skips rows between its windows by design, and the tail is one more gap.
`padding=same` always reaches the end.
"""

from __future__ import annotations

from cnnc.diagnostics import Diagnostic
from cnnc.ir.graph import Graph, Node
from cnnc.ir.shape_math import pad_pairs

AXES = {1: ("position",), 2: ("row", "column"), 3: ("slice", "row", "column")}


def run(graph: Graph) -> list[Diagnostic]:
    found = []
    for node in graph.topological():
        padding = getattr(node.attrs, "padding", "same")
        if node.op.window is None or (isinstance(padding, str) and padding != "valid"):
            continue  # `same` (and its variants) reach the end by construction
        ids = graph.input_ids(node.id)
        note = _unread(graph, node, *_padded_input(graph, ids[0])) if len(ids) == 1 else None
        if note is not None:
            found.append(note)
    return found


def _padded_input(graph: Graph, node_id: str) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...] | None]:
    """The window's input before a `zeropad` in front of it, and that padding: padded rows are not input."""
    node = graph.node(node_id)
    if node.op.name != "zeropad" or node.shape is None:
        return node.shape, None
    source = graph.node(graph.input_ids(node_id)[0]).shape
    return source, pad_pairs(node.attrs.padding, len(source) - 1)


def _unread(graph: Graph, node: Node, shape, padded: tuple[tuple[int, int], ...] | None) -> Diagnostic | None:
    rank = len(shape) - 1
    if rank not in AXES or node.shape is None or len(node.shape) != rank + 1:
        return None
    kernel, stride = node.op.window(node.attrs, rank)
    pairs = ((0, 0),) * rank if node.attrs.padding == "valid" else pad_pairs(node.attrs.padding, rank)
    if padded is not None:
        pairs = tuple((b + pb, a + pa) for (b, a), (pb, pa) in zip(pairs, padded))
    unread: dict[tuple, list[str]] = {}  # the arithmetic -> the axes it is true of
    for axis, (n, k, s, pads, out) in enumerate(zip(shape, kernel, stride, pairs, node.shape)):
        if k >= s and (out - 1) * s + k - pads[0] < n:
            unread.setdefault((n, k, s, pads, out), []).append(AXES[rank][axis])
    parts = [_count(key[0] - _read(key), what) for key, whats in unread.items() for what in whats]
    notes = [_arithmetic(key, whats) for key, whats in unread.items()]
    if not parts:
        return None
    name = graph.structure.value_name(node.id) or node.id
    return Diagnostic(
        "note",
        "N0001",
        f"`{name}` never reads the last {_and(parts)} of its input",
        node.span,
        notes=notes,
        help="`padding=same` reads the whole input; or crop it first to say the rest is dropped on purpose",
    )


def _read(key: tuple) -> int:
    """Input rows 1..read are under some window."""
    n, k, s, (before, _), out = key
    return (out - 1) * s + k - before


def _count(number: int, what: str) -> str:
    return f"{number} {what}{'s' * (number != 1)}"


def _arithmetic(key: tuple, whats: list[str]) -> str:
    n, k, s, (before, after), out = key
    pad = f"2*{before}" if before == after else f"{before}+{after}"
    exact = (n + before + after - k) / s + 1
    axes = " and ".join(f"{w}s" for w in whats)
    return (
        f"{axes}: (n + 2p - f) / s + 1 = ({n} + {pad} - {k}) / {s} + 1 = {exact:.4g}, so {out} windows "
        f"reading 1 to ({out} - 1) * {s} + {k}{f' - {before}' if before else ''} = {_read(key)} of {n}"
    )


def _and(parts: list[str]) -> str:
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
