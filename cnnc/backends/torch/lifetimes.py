"""When each value of the forward pass dies, and which tensors may be overwritten.

Generated code should cost no more than hand-written code, so, as torchvision
does with `nn.ReLU(inplace=True)` and `out += identity`, an op may work in place
on an input that nothing reads afterwards.  That is safe only when (1) no other
live value shares the tensor's memory (views made by flatten, reshape, crop,
identity, dropout keep their base alive) and (2) autograd did not save the
tensor for the backward pass of the op that made it: the ops in FRESH_OPS make
a new tensor and save only their inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnc.ir.graph import Graph, Node

# Ops whose output may share memory with their input.
ALIAS_OPS = frozenset({"identity", "flatten", "reshape", "crop", "dropout"})
# Ops that return a new tensor which their backward pass does not read.
FRESH_OPS = frozenset({"conv", "depthwise", "separable", "pointwise", "conv_transpose", "batchnorm", "dense",
                       "add", "concat", "maxpool", "avgpool", "adaptive_avgpool", "global_avgpool", "upsample",
                       "zeropad"})


@dataclass
class Lifetimes:
    order: list[Node]  # the nodes the forward pass computes: those an output depends on
    value: dict[str, str]  # node id -> node whose variable holds its value (identity passes its input on)
    storage: dict[str, str]  # node id -> node whose tensor its value may share memory with
    last_value_use: dict[str, int]  # position of the last node that reads a value; len(order) for outputs
    last_storage_use: dict[str, int]

    @classmethod
    def of(cls, graph: Graph) -> Lifetimes:
        outputs = set(graph.outputs.values())
        needed = _ancestors(graph, outputs)
        order = [n for n in graph.topological() if n.id in needed]
        value: dict[str, str] = {}
        storage: dict[str, str] = {}
        for node in order:
            inputs = graph.input_ids(node.id)
            value[node.id] = value[inputs[0]] if node.op.name == "identity" else node.id
            storage[node.id] = storage[inputs[0]] if node.op.name in ALIAS_OPS else node.id
        last_value: dict[str, int] = {}
        last_storage: dict[str, int] = {}
        ends = [(pos, i) for pos, node in enumerate(order) for i in graph.input_ids(node.id)]
        ends += [(len(order), out) for out in outputs]
        for pos, source in ends:
            last_value[value[source]] = max(last_value.get(value[source], -1), pos)
            last_storage[storage[source]] = max(last_storage.get(storage[source], -1), pos)
        return cls(order, value, storage, last_value, last_storage)

    def overwritable(self, graph: Graph, node: Node, pos: int) -> int | None:
        """The first input of `node` (at `pos`) that it may overwrite, if any."""
        inputs = graph.input_ids(node.id)
        roots = [self.storage[i] for i in inputs]
        for index, root in enumerate(roots):
            if (self.last_storage_use.get(root) == pos and roots.count(root) == 1
                    and graph.node(root).op.name in FRESH_OPS):
                return index
        return None


def _ancestors(graph: Graph, nodes: set[str]) -> set[str]:
    """The nodes and everything they depend on."""
    found, pending = set(nodes), list(nodes)
    while pending:
        for source in graph.input_ids(pending.pop()):
            if source not in found:
                found.add(source)
                pending.append(source)
    return found
