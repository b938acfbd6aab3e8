"""What an ONNX emitter gets (`Site`), the graph it adds to (`Builder`), and the table of emitters.

An emitter is a small function registered with `@emits("op", ...)`: it adds the ONNX nodes of one
IR node (through `site.op`) and returns the name of the value that holds the result.  The families
live in `windows.py` (convolutions and pooling) and `layers.py` (everything else), as in the
PyTorch backend, whose semantics (NCHW, TensorFlow's `same`, pooling that never counts padding)
these emitters reproduce operator for operator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper

from cnnc.ir.graph import Node
from cnnc.ir.shape_math import Shape


@dataclass
class Builder:
    """The nodes and initializers of the model being built, with unique value names."""

    weight: Callable[[Node, str], np.ndarray]  # (owner node, state-dict suffix) -> the tensor
    nodes: list[NodeProto] = field(default_factory=list)
    initializers: dict[str, TensorProto] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)

    def fresh(self, hint: str) -> str:
        name, n = hint, 1
        while name in self.taken:
            n += 1
            name = f"{hint}_{n}"
        self.taken.add(name)
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, **attrs: object) -> str:
        """Add one ONNX node; its output's name."""
        out = self.fresh(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def constant(self, array: np.ndarray, hint: str) -> str:
        """An initializer holding `array` (float32 unless it is an integer array)."""
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        name = self.fresh(hint)
        self.initializers[name] = numpy_helper.from_array(np.ascontiguousarray(array), name)
        return name

    def ints(self, values: list[int] | tuple[int, ...], hint: str) -> str:
        return self.constant(np.array(values, dtype=np.int64), hint)


@dataclass
class Site:
    """What an emitter knows about one IR node."""

    node: Node
    owner: Node  # whose weights it uses (itself, or the first use of a shared layer)
    args: list[str]  # the ONNX values holding its inputs, NCHW, in order
    in_shapes: list[Shape]  # the IR's (channels-last, no batch) shapes of those inputs
    builder: Builder
    key: str  # the state-dict prefix of the owner's layer: `conv1` in `conv1.weight`

    @property
    def attrs(self):
        return self.node.attrs

    @property
    def x(self) -> str:
        return self.args[0]

    @property
    def shape(self) -> Shape:
        return self.in_shapes[0]

    @property
    def rank(self) -> int:
        """Spatial rank of the first input: 0 for a flat vector."""
        return len(self.shape) - 1

    @property
    def channels(self) -> int:
        return self.shape[-1]

    def op(self, op_type: str, inputs: list[str], **attrs: object) -> str:
        return self.builder.op(op_type, inputs, f"{self.node.id}/{op_type}", **attrs)

    def weight(self, suffix: str) -> str:
        """The initializer of one of the layer's tensors, named as in the PyTorch state dict."""
        name = f"{self.key}.{suffix}"
        if name not in self.builder.initializers:
            array = self.builder.weight(self.owner, suffix).astype(np.float32)
            self.builder.taken.add(name)
            self.builder.initializers[name] = numpy_helper.from_array(np.ascontiguousarray(array), name)
        return name

    def constant(self, array: np.ndarray, what: str) -> str:
        return self.builder.constant(array, f"{self.node.id}/{what}")

    def ints(self, values, what: str) -> str:
        return self.builder.ints(list(values), f"{self.node.id}/{what}")


Emitter = Callable[[Site], str]
EMITTERS: dict[str, Emitter] = {}


def emits(*ops: str) -> Callable[[Emitter], Emitter]:
    def register(fn: Emitter) -> Emitter:
        for op in ops:
            assert op not in EMITTERS, op
            EMITTERS[op] = fn
        return fn

    return register
