"""When each value of the forward pass dies, and which tensors may be overwritten.

Generated code should cost no more than hand-written code, so, as torchvision
does with `nn.ReLU(inplace=True)` and `out += identity`, an op may work in place
on an input that nothing else reads.  That is safe only when (1) no other op
reads the tensor, before or after, through any view of it (the emitters
registered with `output=VIEW` or `INPUT` make views): an earlier reader may
have saved it for its backward pass (`multiply` does), and (2) autograd did not
save it for the backward pass of the op that made it: emitters registered with
`output=FRESH` make a new tensor and save only their inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnc.backends.torch.emitters import FRESH, INPUT, OUTPUTS, SAVED, VIEW  # registered with the emitters
from cnnc.ir.graph import Graph, Node


def _output(node: Node) -> str:
    return OUTPUTS.get(node.op.name, SAVED)


@dataclass
class Lifetimes:
    order: list[Node]  # the nodes the forward pass computes: those an output depends on
    value: dict[str, str]  # node id -> node whose variable holds its value (identity passes its input on)
    storage: dict[str, str]  # node id -> node whose tensor its value may share memory with
    last_value_use: dict[str, int]  # position of the last node that reads a value; len(order) for outputs
    readers: dict[str, list[str]]  # storage root -> the nodes that read it other than through a view of it
    uses: dict[str, list[Node]]  # weight owner -> the computed nodes that run its code (itself, its sharers)

    @classmethod
    def of(cls, graph: Graph) -> Lifetimes:
        outputs = set(graph.outputs.values())
        needed = _ancestors(graph, outputs)
        order = [n for n in graph.topological() if n.id in needed]
        value: dict[str, str] = {}
        storage: dict[str, str] = {}
        for node in order:
            inputs = graph.input_ids(node.id)
            value[node.id] = value[inputs[0]] if _output(node) == INPUT else node.id
            storage[node.id] = storage[inputs[0]] if _output(node) in (INPUT, VIEW) else node.id
        last_value: dict[str, int] = {}
        readers: dict[str, list[str]] = {}
        for pos, node in enumerate(order):
            for source in graph.input_ids(node.id):
                last_value[value[source]] = max(last_value.get(value[source], -1), pos)
                if storage[node.id] != storage[source]:
                    readers.setdefault(storage[source], []).append(node.id)
        for out in outputs:
            last_value[value[out]] = len(order)
            readers.setdefault(storage[out], []).append("<output>")
        uses: dict[str, list[Node]] = {}
        for node in order:
            uses.setdefault(node.shares or node.id, []).append(node)
        return cls(order, value, storage, last_value, readers, uses)

    def overwritable(self, graph: Graph, node: Node, spare: frozenset[str] = frozenset()) -> int | None:
        """The input of `node` that it may overwrite in place, if any: `node` is its only reader.

        A layer of a shared block runs as one code for every use of the block, so it works in
        place only where every use may (a siamese twin's input may be read again, the other's not).
        `spare`: values not to overwrite (an optional part's result: without the part, the name
        holds what it held before, which may be read again).
        """
        uses = self.uses.get(node.shares or node.id) or [node]
        inputs = graph.input_ids(node.id)
        for index in range(len(inputs)):
            if spare and (self.value.get(inputs[index]) in spare or self.storage.get(inputs[index]) in spare):
                continue
            if all(self._sole_reader(graph, use, index) for use in uses):
                return index
        return None

    def _sole_reader(self, graph: Graph, node: Node, index: int) -> bool:
        inputs = graph.input_ids(node.id)
        root = self.storage.get(inputs[index]) if index < len(inputs) else None
        return root is not None and self.readers.get(root) == [node.id] and _output(graph.node(root)) == FRESH


def _ancestors(graph: Graph, nodes: set[str]) -> set[str]:
    """The nodes and everything they depend on."""
    found, pending = set(nodes), list(nodes)
    while pending:
        for source in graph.input_ids(pending.pop()):
            if source not in found:
                found.add(source)
                pending.append(source)
    return found
