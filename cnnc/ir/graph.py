"""The IR: a networkx DiGraph of op instances.

A node is a `Node` record stored under the graph node key `id`; an edge
carries `index`, the input slot it feeds.  Pass results live on the node
under plain names (`shape`, `params`, `macs`, `activation_size`,
`receptive_field`).  Weight sharing: a node whose `shares` names another
node uses that node's weights, and its own parameters count zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import networkx as nx

from cnnc.diagnostics import Span
from cnnc.ir.attrs import Attrs
from cnnc.ir.ops import Op, Params
from cnnc.ir.shape_math import Shape


@dataclass
class Node:
    id: str  # unique, dotted path of block instances: "layer1.0.conv1"
    op: Op
    attrs: Attrs
    span: Span
    frozen: bool = False
    shares: str | None = None  # id of the node whose weights this one uses
    bindings: dict[str, str] = field(default_factory=dict)  # attribute -> network parameter it came from
    # pass results
    shape: Shape | None = None
    params: Params = field(default_factory=Params)
    macs: int = 0
    receptive_field: tuple[int, ...] | None = None

    @property
    def activation_size(self) -> int:
        size = 1
        for d in self.shape or ():
            size *= d
        return size

    @property
    def line(self) -> int:
        return self.span.line


@dataclass
class NetworkParam:
    name: str
    type: str
    default: Any
    value: Any
    structural: bool  # False: only ever passed straight to layer attributes


@dataclass
class Graph:
    """A checked network: the DiGraph plus its named inputs and outputs."""

    name: str
    file: str
    nx: nx.DiGraph = field(default_factory=nx.DiGraph)
    inputs: dict[str, str] = field(default_factory=dict)  # input name -> node id
    outputs: dict[str, str] = field(default_factory=dict)  # output name -> node id
    output_spans: dict[str, Span] = field(default_factory=dict)
    params: dict[str, NetworkParam] = field(default_factory=dict)
    span: Span | None = None
    _order: list[str] | None = None

    def add(self, node: Node, inputs: list[str]) -> Node:
        self.nx.add_node(node.id, node=node)
        for index, source in enumerate(inputs):
            self.nx.add_edge(source, node.id, index=index)
        self._order = None
        return node

    def node(self, node_id: str) -> Node:
        return self.nx.nodes[node_id]["node"]

    def __contains__(self, node_id: str) -> bool:
        return node_id in self.nx

    def __len__(self) -> int:
        return self.nx.number_of_nodes()

    def input_ids(self, node_id: str) -> list[str]:
        edges = self.nx.in_edges(node_id, data="index")
        return [src for src, _, _ in sorted(edges, key=lambda e: e[2])]

    def consumers(self, node_id: str) -> list[str]:
        return list(self.nx.successors(node_id))

    def topological(self) -> Iterator[Node]:
        """Nodes in a deterministic topological order that follows the spec."""
        if self._order is None:
            # Ties broken by insertion order, which is the order of the source.
            position = {n: i for i, n in enumerate(self.nx.nodes)}
            self._order = list(nx.lexicographical_topological_sort(self.nx, key=position.__getitem__))
        return (self.node(n) for n in self._order)

    def nodes(self) -> Iterator[Node]:
        return (data["node"] for _, data in self.nx.nodes(data=True))

    def weight_owner(self, node: Node) -> Node:
        return self.node(node.shares) if node.shares else node

    def totals(self) -> tuple[Params, int]:
        params, macs = Params(), 0
        for node in self.nodes():
            params = params + node.params
            macs += node.macs
        return params, macs
