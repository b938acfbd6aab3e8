"""Weights between the PyTorch and Keras models of one spec, in both directions.

Both backends name a node's layer `layer_name(node.id)`, so a layer's weights
are found by name; what differs is the layout, which the IR graph fixes
without guessing:

  conv, pointwise   torch (out, in/groups, *k)    Keras (*k, in/groups, out)
  conv_transpose    torch (in, out/groups, *k)    Keras (*k, out/groups, in)   (grouped: GroupedConvTranspose)
  depthwise         torch (c*m, 1, *k)            Keras (*k, c, m)   (3D: a grouped Conv3D, (*k, 1, c*m))
  separable         depthwise kernel as above, then the pointwise kernel as a conv, then the bias
  dense             torch (out, in)               Keras (in, out)
  batchnorm         weight, bias, running_mean, running_var  ->  gamma, beta, moving_mean, moving_variance

A flat vector made by `flatten` is ordered C,H,W in PyTorch and H,W,C in Keras,
so a dense layer (or a batch norm) that reads one has its input rows permuted;
`flat_orders` follows that order through activations, merges and concats.

The core works on numpy arrays and imports no framework:

    keras_weights_from_torch(graph, state_dict)  -> {layer name: arrays in Keras' get_weights() order}
    torch_state_from_keras(graph, layer_weights) -> {state-dict key: array}
    read_torch_state(graph, path) -> {state-dict key: array}   # a .pt, or a .npz of either harness

and thin wrappers move real models' weights (importing the framework when called):

    load_torch_state_into_keras(graph, state_dict, keras_model)
    torch_state_dict_from_keras(graph, keras_model) -> {key: torch.Tensor}
    convert_file(graph, source, target, src="torch", dst="keras")   # .pt state dict <-> .weights.h5
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnc.backends.naming import layer_name
from cnnc.ir.graph import Graph, Node
from cnnc.ir.names import module_path

Array = np.ndarray
Order = Array | None  # for a flat tensor: torch_vector[i] == keras_vector[order[i]]; None: the native relation


@dataclass(frozen=True)
class Tensor:
    """One weight: its torch state-dict suffix and the layout change each way."""

    suffix: str
    to_keras: Callable[[Array], Array]
    to_torch: Callable[[Array], Array]


def _same(array: Array) -> Array:
    return array


def _conv(rank: int) -> tuple[Callable, Callable]:
    """(O, I, *k) <-> (*k, I, O); a transposed conv's (I, O, *k) <-> (*k, O, I) is the same move."""
    spatial = tuple(range(2, 2 + rank))
    return (lambda w: np.transpose(w, (*spatial, 1, 0)), lambda k: np.transpose(k, (rank + 1, rank, *range(rank))))


def _depthwise(rank: int, channels: int) -> tuple[Callable, Callable]:
    """(c*m, 1, *k) <-> (*k, c, m): output channel c*m + j is input channel c's j-th filter in both."""
    spatial = tuple(range(2, 2 + rank))

    def to_keras(w: Array) -> Array:
        return np.transpose(w.reshape(channels, -1, *w.shape[2:]), (*spatial, 0, 1))

    def to_torch(k: Array) -> Array:
        return np.transpose(k, (rank, rank + 1, *range(rank))).reshape(-1, 1, *k.shape[:rank])

    return to_keras, to_torch


def _rows(order: Order) -> tuple[Callable, Callable]:
    """A dense kernel (out, in) <-> (in, out), its input rows put in Keras' order."""
    if order is None:
        return (lambda w: np.ascontiguousarray(w.T), lambda k: np.ascontiguousarray(k.T))
    return (lambda w: _scatter(w.T, order), lambda k: np.ascontiguousarray(k[order].T))


def _vector(order: Order) -> tuple[Callable, Callable]:
    """A per-feature vector (batch norm of a flat tensor) in Keras' order."""
    if order is None:
        return _same, _same
    return (lambda v: _scatter(v, order), lambda v: v[order])


def _scatter(torch_rows: Array, order: Array) -> Array:
    keras_rows = np.empty_like(torch_rows)
    keras_rows[order] = torch_rows
    return keras_rows


def _bias(node: Node) -> list[Tensor]:
    return [Tensor("bias", _same, _same)] if node.attrs.bias else []


def _rank(node: Node) -> int:
    return len(node.shape) - 1


def _conv_rule(graph: Graph, node: Node, orders: dict[str, Order]) -> list[Tensor]:
    return [Tensor("weight", *_conv(_rank(node))), *_bias(node)]


def _depthwise_rule(graph: Graph, node: Node, orders: dict[str, Order]) -> list[Tensor]:
    rank, channels = _rank(node), _input(graph, node).shape[-1]
    moves = _depthwise(rank, channels) if rank < 3 else _conv(rank)  # 3D: Keras' grouped Conv3D
    return [Tensor("weight", *moves), *_bias(node)]


def _separable_rule(graph: Graph, node: Node, orders: dict[str, Order]) -> list[Tensor]:
    rank, channels = _rank(node), _input(graph, node).shape[-1]
    return [
        Tensor("depthwise.weight", *_depthwise(rank, channels)),
        Tensor("pointwise.weight", *_conv(rank)),
        *([Tensor("pointwise.bias", _same, _same)] if node.attrs.bias else []),
    ]


def _dense_rule(graph: Graph, node: Node, orders: dict[str, Order]) -> list[Tensor]:
    rows, columns = orders[_input(graph, node).id], orders[node.id]
    to_keras, to_torch = _rows(rows)
    if columns is not None:  # the units feed a reshape to h x w x c: Keras' columns in its own order
        to_keras, to_torch = (
            (lambda w, f=to_keras: _scatter(f(w).T, columns).T),
            (lambda k, f=to_torch: f(np.ascontiguousarray(k[:, columns]))),
        )
    bias = _vector(columns)
    return [Tensor("weight", to_keras, to_torch), *([Tensor("bias", *bias)] if node.attrs.bias else [])]


def _batchnorm_rule(graph: Graph, node: Node, orders: dict[str, Order]) -> list[Tensor]:
    moves = _vector(orders[_input(graph, node).id])
    names = ["weight"] * node.attrs.scale + ["bias"] * node.attrs.center + ["running_mean", "running_var"]
    return [Tensor(name, *moves) for name in names]


def _input(graph: Graph, node: Node) -> Node:
    return graph.node(graph.input_ids(node.id)[0])


# op -> the tensors of its layer, in Keras' get_weights() order
RULES: dict[str, Callable[[Graph, Node, dict[str, Order]], list[Tensor]]] = {
    "conv": _conv_rule,
    "pointwise": _conv_rule,
    "conv_transpose": _conv_rule,
    "depthwise": _depthwise_rule,
    "separable": _separable_rule,
    "dense": _dense_rule,
    "batchnorm": _batchnorm_rule,
}
# state-dict entries PyTorch keeps that Keras has no counterpart for: suffix -> value to write
TORCH_ONLY: dict[str, dict[str, Callable[[], Array]]] = {
    "batchnorm": {"num_batches_tracked": lambda: np.array(0, dtype=np.int64)},
}


# --- the order of flat tensors ---------------------------------------------------------


def flat_orders(graph: Graph) -> dict[str, Order]:
    """For each node whose output is flat and ordered differently in PyTorch: torch[i] == keras[order[i]].

    `flatten` (and `reshape` to a flat shape) orders C,H,W in PyTorch, H,W,C in
    Keras.  A `reshape` of a flat tensor back to h x w x c reads it in each
    framework's order too, so the dense layer that feeds it writes its units in
    that order: the order is set at the dense layer and flows forward from there.
    """
    chosen = _dense_output_orders(graph)
    orders: dict[str, Order] = {}
    for node in graph.topological():
        ins = graph.input_ids(node.id)
        if node.id in chosen:
            orders[node.id] = chosen[node.id]
        else:
            orders[node.id] = _order(node, [graph.node(i).shape for i in ins], [orders[i] for i in ins])
    return orders


def _channels_first_order(shape: tuple) -> Order:
    """The Keras (channels-last) flat index of each PyTorch (channels-first) flat position."""
    if len(shape) == 1 or shape[-1] == _prod(shape):
        return None
    return np.moveaxis(np.arange(_prod(shape)).reshape(shape), -1, 0).reshape(-1)


def _prod(shape: tuple) -> int:
    return int(np.prod(shape))


def _order(node: Node, shapes: list[tuple], ins: list[Order]) -> Order:
    if len(node.shape) != 1:
        return None
    if node.op.keeps_values and not node.op.layout_free:  # flatten, reshape: each framework's own order
        return ins[0] if len(shapes[0]) == 1 else _channels_first_order(shapes[0])
    if node.op.name == "concat":
        if all(order is None for order in ins):
            return None
        offsets = np.cumsum([0] + [s[0] for s in shapes[:-1]])
        return np.concatenate([(np.arange(s[0]) if o is None else o) + k for o, s, k in zip(ins, shapes, offsets)])
    if node.op.layout_free:  # the order passes through (merged inputs of one shape share it)
        return next((order for order in ins if order is not None), None)
    return None


def _dense_output_orders(graph: Graph) -> dict[str, Array]:
    """Dense layers whose output a `reshape` turns back into h x w x c: the order their units must take."""
    chosen: dict[str, Array] = {}
    for node in graph.topological():
        source = graph.node(graph.input_ids(node.id)[0]) if node.op.name == "reshape" else None
        if source is None or len(source.shape) != 1 or len(node.shape) == 1:
            continue
        while source.op.layout_free and source.op.max_inputs == 1:
            source = graph.node(graph.input_ids(source.id)[0])
        if source.op.name == "dense" and not source.shares:
            chosen[source.id] = _channels_first_order(node.shape)
    return chosen


# --- the framework-neutral core ----------------------------------------------------------


def weight_layers(graph: Graph) -> list[Node]:
    """The nodes that own weights (a shared layer's first use), in spec order."""
    return [n for n in graph.topological() if n.op.name in RULES and not n.shares]


def keras_weights_from_torch(graph: Graph, state: Mapping[str, object]) -> dict[str, list[Array]]:
    """A PyTorch state dict (tensors or arrays) -> {Keras layer name: arrays in get_weights() order}."""
    orders = flat_orders(graph)
    out: dict[str, list[Array]] = {}
    for node in weight_layers(graph):
        out[keras_layer_name(node)] = [
            t.to_keras(_numpy(_entry(state, torch_key(node, t.suffix), node)))
            for t in RULES[node.op.name](graph, node, orders)
        ]
    return out


def torch_state_from_keras(graph: Graph, weights: Mapping[str, Sequence[Array]]) -> dict[str, Array]:
    """{Keras layer name: get_weights()} -> a PyTorch state dict of numpy arrays."""
    orders = flat_orders(graph)
    out: dict[str, Array] = {}
    for node in weight_layers(graph):
        name = keras_layer_name(node)
        tensors = RULES[node.op.name](graph, node, orders)
        arrays = list(weights[name])
        if len(arrays) != len(tensors):
            raise ValueError(f"layer {name!r} has {len(arrays)} weights, expected {len(tensors)}")
        for tensor, array in zip(tensors, arrays):
            out[torch_key(node, tensor.suffix)] = np.ascontiguousarray(tensor.to_torch(np.asarray(array)))
        for suffix, value in TORCH_ONLY.get(node.op.name, {}).items():
            out[torch_key(node, suffix)] = value()
    return out


def torch_key(node: Node, suffix: str) -> str:
    """The generated PyTorch model's state-dict key of one of a node's tensors (README, Names)."""
    return f"{module_path(node.id)}.{suffix}"


def keras_layer_name(node: Node) -> str:
    """The generated Keras model's name of a node's layer."""
    return layer_name(node.id)


def _entry(state: Mapping[str, object], key: str, node: Node) -> object:
    if key not in state:
        raise KeyError(
            f"the state dict has no {key!r} (the {node.op.name} of line {node.span.line}): "
            "is it from the same spec, compiled with the same --set?"
        )
    return state[key]


def _numpy(value: object) -> Array:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


# --- the frameworks -------------------------------------------------------------------


def load_torch_state_into_keras(graph: Graph, state_dict: Mapping[str, object], model) -> None:
    """Set a Keras model's weights from a PyTorch state dict of the same spec."""
    for name, arrays in keras_weights_from_torch(graph, state_dict).items():
        model.get_layer(name).set_weights(arrays)


def torch_state_dict_from_keras(graph: Graph, model) -> dict:
    """A PyTorch state dict (tensors) from a Keras model of the same spec."""
    import torch

    weights = {keras_layer_name(n): model.get_layer(keras_layer_name(n)).get_weights() for n in weight_layers(graph)}
    return {k: torch.from_numpy(v) for k, v in torch_state_from_keras(graph, weights).items()}


def convert_file(graph: Graph, source: Path | str, target: Path | str, src: str = "torch", dst: str = "keras") -> None:
    """A saved PyTorch state dict (.pt) <-> a Keras weights file (.weights.h5) for one spec."""
    import torch

    from cnnc.backends import keras as keras_backend

    if (src, dst) not in (("torch", "keras"), ("keras", "torch")):
        raise ValueError(f"cannot convert from {src} to {dst}")
    model = keras_backend.build(graph)
    if src == "torch":
        state = torch.load(source, map_location="cpu", weights_only=True)
        load_torch_state_into_keras(graph, state, model)
        model.save_weights(str(target))
    else:
        model.load_weights(str(source))
        torch.save(torch_state_dict_from_keras(graph, model), target)


# --- reading a weights file as a PyTorch state dict ------------------------------------


def read_torch_state(graph: Graph, path: Path) -> dict[str, Array]:
    """A weights file as the generated PyTorch model's state dict of numpy arrays (`--weights`).

    `.pt`/`.pth`: a state dict, or a harness checkpoint holding one under "model" (read with
    torch, the framework that wrote it).  `.npz`: a state dict saved with `np.savez(**state)`, or
    the Keras harness' checkpoint (variable paths under "names", arrays under "model/i"), whose
    layers' variables come in get_weights() order and are moved to PyTorch's layout here.
    """
    if path.suffix in (".pt", ".pth"):
        import torch

        blob = torch.load(path, map_location="cpu", weights_only=True)
        blob = blob["model"] if isinstance(blob, dict) and isinstance(blob.get("model"), dict) else blob
        return {k: v.detach().numpy() for k, v in blob.items() if hasattr(v, "detach")}
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as blob:
            if "names" not in blob:
                return {k: blob[k] for k in blob.files}
            layers: dict[str, list[Array]] = {}
            for i, name in enumerate(json.loads(str(blob["names"]))):
                layer, _, variable = name.rpartition("/")
                if not variable.startswith("seed"):  # a dropout's random state, not a weight
                    layers.setdefault(layer, []).append(blob[f"model/{i}"])
        wanted = {layer_name(n.id) for n in weight_layers(graph)}
        return torch_state_from_keras(graph, {k: v for k, v in layers.items() if k in wanted})
    raise ValueError(f"weights must be a .pt/.pth state dict or a .npz file, got {path.name}")
