"""Classification at compile time: the spec's head, or diagnostics where the spec does not fit.

The plan reads the end of the network from the IR:
- one input; the outputs that are vectors of class scores (shape (K,)); the
  first declared one is trained and evaluated, the others of the same width
  are auxiliary heads (GoogLeNet) added to the loss with --aux-weight;
- the output's last op decides the loss: `softmax` -> NLL on the log of the
  probabilities, `sigmoid` -> binary cross-entropy (one unit: a binary
  classifier), anything else -> the output is logits (cross-entropy with the
  softmax, or the sigmoid, inside the loss);
- the head layer: the last layer with weights on the way back from the output
  (the one a new number of classes replaces), the network parameter that sets
  its width when that can change without recompiling (`num_classes`), and
  whether only activations or dropout follow it (needed to train it alone on
  cached features).
"""

from __future__ import annotations

from cnnc.backends.common import constructor_params
from cnnc.diagnostics import CnncError, Diagnostic
from cnnc.ir.graph import Graph, Node
from cnnc.tasks.classify.runtime.common import Head

_PROBABILITIES = ("softmax", "sigmoid")  # the end activations the loss reads probabilities from


def plan(graph: Graph) -> Head:
    """The head of a classifier, or CnncError pointing at what does not fit."""
    problems: list[Diagnostic] = []
    if len(graph.inputs) != 1:
        problems.append(
            Diagnostic(
                "error",
                "E0701",
                f"task `classify` needs one input, the network has {len(graph.inputs)}",
                graph.span,
                help="train several-input networks with your own loop on model.py",
            )
        )
    vectors = [name for name, nid in graph.outputs.items() if len(graph.node(nid).shape) == 1]
    for name, nid in graph.outputs.items():
        shape = graph.node(nid).shape
        if len(shape) != 1:
            problems.append(
                Diagnostic(
                    "error",
                    "E0702",
                    f"task `classify` needs class scores, but output `{name}` is {'x'.join(map(str, shape))}",
                    graph.output_spans.get(name),
                    help="end with `-> global_avgpool -> dense(num_classes) -> softmax` (or flatten before dense)",
                )
            )
    if vectors:
        width = graph.node(graph.outputs[vectors[0]]).shape[0]
        for name in vectors[1:]:
            if graph.node(graph.outputs[name]).shape[0] != width:
                problems.append(
                    Diagnostic(
                        "error",
                        "E0703",
                        f"auxiliary output `{name}` has {graph.node(graph.outputs[name]).shape[0]} "
                        f"scores, the main output `{vectors[0]}` has {width}",
                        graph.output_spans.get(name),
                    )
                )
        end = graph.node(graph.outputs[vectors[0]])
        if end.op.name == "softmax" and width == 1:
            problems.append(
                Diagnostic(
                    "error",
                    "E0704",
                    "softmax over one unit is always 1",
                    graph.output_spans.get(vectors[0]),
                    help="use `sigmoid` for a binary classifier, or two units with softmax",
                )
            )
    if problems:
        raise CnncError(problems)
    return _head(graph, vectors[0], vectors)


def _head(graph: Graph, output: str, outputs: list[str]) -> Head:
    end = graph.node(graph.outputs[output])
    activation = end.op.name if end.op.name in _PROBABILITIES else "logits"
    node, between = end, []
    while node.params.total == 0 and not node.shares and graph.input_ids(node.id):
        between.append(node.op)
        node = graph.node(graph.input_ids(node.id)[0])
    layer = graph.weight_owner(node) if node.params.total or node.shares else None
    from cnnc.backends.naming import layer_name

    # train_head_on_features applies the layer, then the end's probabilities: nothing else may sit between
    dense_tail = (
        layer is not None
        and layer.op.name == "dense"
        and node is layer
        and all(op.keeps_values or (i == 0 and activation != "logits") for i, op in enumerate(between))
    )
    return Head(
        output=output,
        outputs=tuple(graph.outputs),
        units=end.shape[0],
        activation=activation,
        layer=layer_name(layer.id) if layer is not None else None,
        units_param=_units_param(graph, layer, end.shape[0]),
        dense_tail=dense_tail,
    )


def _units_param(graph: Graph, layer: Node | None, units: int) -> str | None:
    """The model's constructor argument that sets the head's width to the output's, if there is one.

    Asked of the same function the backends write the constructor from, so
    train.py never passes an argument the model does not take; and the layer's
    width must be the output's (a `flatten` of 2x2xK would make 4K scores)."""
    if layer is None or layer.op.width_attr is None or getattr(layer.attrs, layer.op.width_attr) != units:
        return None
    bound = layer.bindings.get(layer.op.width_attr)
    sites = constructor_params(graph).get(bound, []) if bound is not None else []
    return bound if (layer.id, layer.op.width_attr) in sites else None
