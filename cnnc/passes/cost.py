"""Parameters and multiply-adds per node, under the convention in `ir/ops.py`.

A node that shares another's weights costs its MACs but no parameters; a
frozen node's parameters all count as non-trainable.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnc.ir.graph import Graph
from cnnc.ir.ops import Params


@dataclass(frozen=True)
class Cost:
    params: Params = Params()
    macs: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.params + other.params, self.macs + other.macs)

    @property
    def flops(self) -> int:
        return 2 * self.macs


def run(graph: Graph) -> Cost:
    total = Cost()
    for node in graph.topological():
        ins = [graph.node(i).shape for i in graph.input_ids(node.id)]
        params = node.op.params(node.attrs, ins, node.shape)
        if node.frozen:
            params = params.frozen()
        node.params = Params() if node.shares else params
        node.macs = node.op.macs(node.attrs, ins, node.shape)
        total = total + Cost(node.params, node.macs)
    return total
