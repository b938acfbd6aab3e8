"""The ONNX model's weights: a PyTorch state dict's tensors, or PyTorch's own initialisation.

ONNX and the generated PyTorch model share a layout (NCHW, PyTorch's weight shapes), so a state
dict's tensors go in as they are, found by the same keys (`module_path(node.id)` + suffix, as
`cnnc.weights` moves them; `cnnc.weights.read_torch_state` reads the files `--weights` takes).

Without a state dict each tensor is drawn as PyTorch initialises it (kaiming-uniform with
a = sqrt(5): U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases; batch norm 1, 0, 0, 1)
from a seeded generator, so the file is the same every time; a constant kernel is its matrix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from cnnc.errors import UsageError
from cnnc.ir.graph import Graph, Node
from cnnc.ir.ops import constant_kernel
from cnnc.ir.shape_math import per_dim

WeightSource = Callable[[Node, str], np.ndarray]


def weight_source(
    graph: Graph, state: Mapping[str, np.ndarray] | None, key: Callable[[Node], str], seed: int = 0
) -> WeightSource:
    """(owner node, suffix) -> the tensor: from the state dict, or freshly initialised."""
    if state is None:
        rng = np.random.default_rng(seed)
        return lambda node, suffix: pytorch_init(graph, node, suffix, rng)

    def lookup(node: Node, suffix: str) -> np.ndarray:
        name = f"{key(node)}.{suffix}"
        if name not in state:
            raise UsageError(f"the weights have no tensor {name!r} (line {node.line}: {node.op.name})")
        array = np.asarray(state[name], dtype=np.float32)
        expected = torch_shape(graph, node, suffix)
        if array.shape != expected:
            raise UsageError(f"the weights' {name!r} is {array.shape}; the layer at line {node.line} needs {expected}")
        return array

    return lookup


# --- PyTorch's initialisation ------------------------------------------------------------


def torch_shape(graph: Graph, node: Node, suffix: str) -> tuple[int, ...]:
    """The shape of a tensor of the generated PyTorch model's layer."""
    attrs, shape = node.attrs, graph.node(graph.input_ids(node.id)[0]).shape
    c, rank, name = shape[-1], len(shape) - 1, node.op.name
    if name == "batchnorm":
        return (c,)
    if suffix.endswith("bias"):
        return (node.shape[-1],)
    if name == "dense":
        return (attrs.units, c)
    kernel = per_dim(attrs.kernel, rank, "kernel") if hasattr(attrs, "kernel") else (1,) * rank
    if name == "separable":
        mid = c * attrs.multiplier
        return (mid, 1, *kernel) if suffix.startswith("depthwise") else (attrs.filters, mid, *(1,) * rank)
    if name == "conv_transpose":
        return (c, attrs.filters // attrs.groups, *kernel)
    if name == "depthwise":
        return (c * attrs.multiplier, 1, *kernel)
    return (attrs.filters, c // (attrs.groups if name == "conv" else 1), *kernel)  # conv, pointwise


def _fan_in(graph: Graph, node: Node, suffix: str) -> int:
    """PyTorch's fan-in of a weight: dim 1 times the kernel volume (dim 1 is the output channels of a
    transposed conv's (in, out, *k) weight, PyTorch's own quirk, kept so the scale is the same)."""
    weight = torch_shape(graph, node, suffix.replace("bias", "weight"))
    return weight[1] * math.prod(weight[2:])


def pytorch_init(graph: Graph, node: Node, suffix: str, rng: np.random.Generator) -> np.ndarray:
    shape = torch_shape(graph, node, suffix)
    if node.op.name == "batchnorm":
        return np.full(shape, 1.0 if suffix in ("weight", "running_var") else 0.0, np.float32)
    if node.op.name == "conv" and node.attrs.weights is not None:
        # the PyTorch model copies the fixed 2D kernel into every (out, in) pair; its bias starts at 0
        return (
            np.broadcast_to(np.array(constant_kernel(node.attrs), np.float32), shape).copy()
            if suffix == "weight"
            else np.zeros(shape, np.float32)
        )
    bound = 1.0 / math.sqrt(_fan_in(graph, node, suffix))
    return rng.uniform(-bound, bound, shape).astype(np.float32)
