"""A checked network as a Graphviz DOT graph: the picture `cnnc graph` draws.

Nodes are the layers (name, op, output shape, parameters), edges run in data order, each block
call is a cluster labelled with its name and block (nested as the calls nest), inputs and
outputs are ovals.  With `depth=N` the block calls N levels down (1: those the network's body
makes) are drawn as one node each (the block, its output shape and its parameters), and only
the calls above them as clusters, so `depth=1` shows the network as a chain of blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnc.ir.calls import Call, named, named_lineage
from cnnc.ir.graph import Graph, Node
from cnnc.ir.shape_math import fmt

# Fill colours by op family, so the eye finds the convolutions, the pools and the merges.
COLOURS = {
    "conv": "#cfe2f3", "dense": "#cfe2f3", "pool": "#d9ead3", "global_pool": "#d9ead3", "norm": "#eeeeee",
    "activation": "#fff2cc", "regularize": "#eeeeee", "reshape": "#ead1dc", "merge": "#fce5cd", "io": "#ffffff",
}  # fmt: skip
BLOCK_COLOUR = "#c9daf8"


def quote(text: str) -> str:
    """A DOT string: any text, quoted and escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass
class Cluster:
    """One block call drawn as a box: what is drawn directly inside it, in spec order."""

    call: Call | None  # None: the network's body, the outermost level
    items: list[Node | tuple[Call, list[Node]]] = field(default_factory=list)  # layers; collapsed calls
    children: list[Cluster] = field(default_factory=list)


def level(call: Call) -> int:
    """1 for a call the network's body makes, 2 for one made inside that, ..."""
    return len(named_lineage(call))


def collapsed(node: Node, depth: int | None) -> Call | None:
    """The call at level `depth` the node was made in, if any: it stands for the node."""
    if depth is None or node.call is None:
        return None
    lineage = named_lineage(node.call)
    return lineage[depth - 1] if len(lineage) >= depth else None


def shown(call: Call | None, depth: int | None) -> Call | None:
    """The innermost call of the lineage that is drawn as a cluster (None: the network's body)."""
    call = named(call)  # an anonymous call (`as _`) is drawn as part of its caller
    while call is not None and depth is not None and level(call) >= depth:
        call = named(call.parent)
    return call


def network_dot(graph: Graph, depth: int | None = None) -> str:
    """The DOT text of the network; `depth` collapses the block calls that many levels down."""
    top = Cluster(None)
    clusters: dict[int, Cluster] = {id(None): top}
    for call in graph.structure.calls:
        if shown(call, depth) is call:
            clusters[id(call)] = Cluster(call)
            clusters[id(named(call.parent))].children.append(clusters[id(call)])
    drawn = _place(graph, depth, clusters)
    lines = [f"digraph {quote(graph.name)} {{", *HEADER, *_cluster_lines(graph, top, "  ")]
    for name, node_id in graph.outputs.items():
        lines.append("  " + _oval(f"output:{name}", name, "output", graph.node(node_id).shape))
    lines += [f"  {quote(a)} -> {quote(b)};" for a, b in _edges(graph, drawn)]
    return "\n".join(lines + ["}"]) + "\n"


HEADER = [
    '  graph [rankdir=TB, fontname="Helvetica", fontsize=11, nodesep=0.25, ranksep=0.3];',
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=9, margin="0.08,0.03"];',
    '  edge [arrowsize=0.6, color="#555555"];',
]


def _place(graph: Graph, depth: int | None, clusters: dict[int, Cluster]) -> dict[str, str]:
    """Put each layer, or the collapsed call that stands for it, in its cluster; node id -> DOT id."""
    drawn: dict[str, str] = {}
    members: dict[int, list[Node]] = {}
    for node in graph.topological():
        call = collapsed(node, depth)
        if call is None:
            drawn[node.id] = f"layer:{node.id}"
            clusters[id(shown(node.call, depth))].items.append(node)
            continue
        drawn[node.id] = f"block:{call.path}"
        if id(call) not in members:
            members[id(call)] = []
            clusters[id(named(call.parent))].items.append((call, members[id(call)]))
        members[id(call)].append(node)
    return drawn


def _cluster_lines(graph: Graph, cluster: Cluster, indent: str) -> list[str]:
    lines = [indent + (_layer(graph, item) if isinstance(item, Node) else _block(*item)) for item in cluster.items]
    for child in cluster.children:
        label = f"{_local(child.call.path)}: {child.call.block}{_sharing(child.call)}"
        lines.append(f"{indent}subgraph {quote('cluster:' + child.call.path)} {{")
        lines.append(f'{indent}  graph [label={quote(label)}, style="rounded", color="#888888"];')
        lines += _cluster_lines(graph, child, indent + "  ")
        lines.append(f"{indent}}}")
    return lines


def _local(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def _sharing(call: Call) -> str:
    """A later use of a shared block says whose weights it runs with (its own parameters count 0)."""
    return f" (weights of {_local(call.shares.path)})" if call.shares is not None else ""


def _oval(dot_id: str, name: str, role: str, shape: tuple) -> str:
    label = "\n".join([name, f"{role} {fmt(shape)}"])
    return f'{quote(dot_id)} [label={quote(label)}, shape=oval, style="filled,bold", fillcolor="#ffffff"];'


def _layer(graph: Graph, node: Node) -> str:
    if node.op.name == "input":
        name = next(k for k, v in graph.inputs.items() if v == node.id)
        return _oval(f"layer:{node.id}", name, "input", node.shape)
    lines = [_local(node.id), f"{node.op.name}  {fmt(node.shape)}"]
    if node.params.total:
        lines.append(f"{node.params.total:,} params")
    colour = COLOURS.get(node.op.family, "#ffffff")
    return f"{quote('layer:' + node.id)} [label={quote(chr(10).join(lines))}, fillcolor={quote(colour)}];"


def _block(call: Call, members: list[Node]) -> str:
    params = sum(node.params.total for node in members)
    lines = [
        _local(call.path) + _sharing(call),
        f"{call.block}  {fmt(members[-1].shape)}",
        f"{len(members)} layers, {params:,} params",
    ]
    return (
        f"{quote('block:' + call.path)} [label={quote(chr(10).join(lines))}, shape=box3d, style=filled, "
        f"fillcolor={quote(BLOCK_COLOUR)}];"
    )


def _edges(graph: Graph, drawn: dict[str, str]) -> list[tuple[str, str]]:
    """Data edges between what is drawn, once each, in spec order; outputs to their ovals."""
    edges: dict[tuple[str, str], None] = {}
    for node in graph.topological():
        for source in graph.input_ids(node.id):
            if drawn[source] != drawn[node.id]:
                edges[(drawn[source], drawn[node.id])] = None
    for name, node_id in graph.outputs.items():
        edges[(drawn[node_id], f"output:{name}")] = None
    return list(edges)
