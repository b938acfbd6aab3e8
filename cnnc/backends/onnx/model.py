"""The ONNX model of a checked network: one graph, NCHW like the PyTorch model, a dynamic batch.

Values are named after the IR nodes (`layer1.0.conv1`), inputs and outputs after the spec, and
weights after the PyTorch state dict (`layer1_0_conv1.weight`), so Netron shows the spec's
names and a value can be matched with cnnc's own shape for it.  Block calls are inlined: every
op is an ONNX operator of the standard domain, which every runtime runs.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx
from onnx import TensorProto, helper

from cnnc.backends.common import channels_first
from cnnc.backends.naming import layer_name
from cnnc.backends.onnx import layers, windows  # noqa: F401 - importing registers their emitters
from cnnc.backends.onnx.site import EMITTERS, Builder, Site
from cnnc.backends.onnx.weights import weight_source
from cnnc.ir.graph import Graph, Node
from cnnc.ir.names import module_path

OPSET = 24  # ONNX 1.19's; every op used here has its latest form at or below it
IR_VERSION = 11
BATCH = "batch"  # the symbolic first dimension of every input and output


def value_names(graph: Graph) -> dict[str, str]:
    """The ONNX value that holds each node's output: the node's id, unless an output of the spec
    (a graph output's name) or an input takes it."""
    names = {node_id: name for name, node_id in graph.inputs.items()}
    reserved = set(graph.outputs) | set(names.values())
    for node in graph.topological():
        if node.id not in names:
            names[node.id] = node.id if node.id not in reserved else f"{node.id}/value"
    return names


def build_model(graph: Graph, state: Mapping[str, np.ndarray] | None = None, seed: int = 0) -> onnx.ModelProto:
    """The ONNX model; weights from `state` (a PyTorch state dict of arrays) or PyTorch's initialisation."""
    builder = Builder(weight_source(graph, state, lambda node: module_path(node.id), seed))
    names = value_names(graph)
    builder.taken.update(names.values())
    builder.taken.update(graph.outputs)
    for node in graph.topological():
        if node.op.name != "input":
            _emit(graph, node, names, builder)
    outputs = []
    for name, node_id in graph.outputs.items():
        if names[node_id] != name:
            builder.nodes.append(helper.make_node("Identity", [names[node_id]], [name], name=name))
        outputs.append(_value_info(name, graph.node(node_id).shape))
    inputs = [_value_info(name, graph.node(node_id).shape) for name, node_id in graph.inputs.items()]
    body = helper.make_graph(builder.nodes, graph.name, inputs, outputs, list(builder.initializers.values()))
    model = helper.make_model(
        body,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="cnnc",
        ir_version=IR_VERSION,
        doc_string=f"{graph.name}, compiled by cnnc from {graph.file}",
    )
    return model


def _emit(graph: Graph, node: Node, names: dict[str, str], builder: Builder) -> None:
    ins = graph.input_ids(node.id)
    owner = graph.weight_owner(node)
    site = Site(node, owner, [names[i] for i in ins], [graph.node(i).shape for i in ins], builder, layer_name(owner.id))
    first = len(builder.nodes)
    result = EMITTERS[node.op.name](site)
    # The value that holds the result takes the node's name.
    made = [n for n in builder.nodes[first:] if result in n.output]
    assert made, f"{node.op.name}: the emitter returned a value it did not make"
    _rename(builder.nodes[first:], result, names[node.id])


def _rename(nodes: list, old: str, new: str) -> None:
    for n in nodes:
        for i, name in enumerate(n.output):
            if name == old:
                n.output[i] = new
                n.name = new
        for i, name in enumerate(n.input):
            if name == old:
                n.input[i] = new


def _value_info(name: str, shape: tuple[int, ...]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [BATCH, *channels_first(shape)])
