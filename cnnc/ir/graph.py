"""The IR: a directed acyclic graph of op instances.

A node is a `Node` record; `Graph.add` takes a node with its ordered inputs,
which must already be in the graph, so insertion order is a topological
order and a cycle cannot be built.  Pass results live on the node under
plain names (`shape`, `params`, `macs`, `activation_size`,
`receptive_field`).  Weight sharing: a node whose `shares` names another
node uses that node's weights, and its own parameters count zero.

The spec's structure (block calls, loops, value names: `cnnc.ir.calls`) is
kept beside the nodes in `Graph.structure`; `Node.call` is the innermost
block call a node was made in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cnnc.diagnostics import Span
from cnnc.ir.attrs import Attrs
from cnnc.ir.calls import Call, Iteration, Structure
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
    arguments: dict[str, str] = field(default_factory=dict)  # attribute -> block parameter it is written as
    call: Call | None = None  # the innermost block call that made it; None: the network's body
    loops: tuple[Iteration, ...] = ()  # the loops around it in that call's body, outermost first
    # pass results
    shape: Shape | None = None
    params: Params = field(default_factory=Params)
    macs: int = 0
    receptive_field: tuple[int, ...] | None = None
    receptive_jump: tuple[int, ...] | None = None  # input pixels between neighbouring units (the product of strides)
    receptive_start: tuple[int, ...] | None = None  # where unit 0's field starts in the input (< 0: in the padding)

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
    """A checked network: its nodes in topological order, named inputs and outputs."""

    name: str
    file: str
    inputs: dict[str, str] = field(default_factory=dict)  # input name -> node id
    outputs: dict[str, str] = field(default_factory=dict)  # output name -> node id
    output_spans: dict[str, Span] = field(default_factory=dict)
    params: dict[str, NetworkParam] = field(default_factory=dict)
    span: Span | None = None
    structure: Structure = field(default_factory=Structure)
    _nodes: dict[str, Node] = field(default_factory=dict)
    _inputs: dict[str, list[str]] = field(default_factory=dict)
    _consumers: dict[str, list[str]] = field(default_factory=dict)

    def add(self, node: Node, inputs: list[str]) -> Node:
        if node.id in self._nodes:
            raise ValueError(f"duplicate node id {node.id!r}")
        missing = [i for i in inputs if i not in self._nodes]
        if missing:
            raise ValueError(f"inputs of {node.id!r} must be added first: {missing}")
        self._nodes[node.id] = node
        self._inputs[node.id] = list(inputs)
        self._consumers[node.id] = []
        for source in inputs:
            self._consumers[source].append(node.id)
        return node

    def node(self, node_id: str) -> Node:
        return self._nodes[node_id]

    def __contains__(self, node_id: str) -> bool:
        return node_id in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def input_ids(self, node_id: str) -> list[str]:
        """The node's inputs, in slot order."""
        return self._inputs[node_id]

    def consumers(self, node_id: str) -> list[str]:
        return self._consumers[node_id]

    def topological(self) -> Iterator[Node]:
        """Nodes in a deterministic topological order: the order of the source."""
        return iter(list(self._nodes.values()))

    def weight_owner(self, node: Node) -> Node:
        return self.node(node.shares) if node.shares else node
