"""Face verification at compile time: what the task reads from the spec.

Two shapes of network serve (the material's two drawings of the same idea):

- an embedding network: one image input and one vector output f(x); the harness
  applies it, with its one set of weights, to anchors, positives and negatives;
- a siamese network: two image inputs of one shape and two vector outputs of one
  width, computed by the same weights (`shared f = block(...)`, as
  specs/siamese.cnn); the harness feeds the same images to both inputs and reads
  the first output (the second is the same function of the same images).

Anything else is an error that points at the spec (E0761-E0764).
"""

from __future__ import annotations

from cnnc.diagnostics import CnncError, Diagnostic
from cnnc.ir.graph import Graph, Node
from cnnc.tasks.verify.runtime.common import VerifyHead


def plan(graph: Graph) -> VerifyHead:
    """The verification head, or CnncError pointing at what does not fit."""
    problems = _input_problems(graph)
    outputs = list(graph.outputs.items())
    wanted = 2 if len(graph.inputs) == 2 else 1
    if len(outputs) != wanted:
        span = graph.output_spans.get(outputs[-1][0]) if outputs else graph.span
        problems.append(
            Diagnostic(
                "error",
                "E0762",
                f"task `verify` needs {wanted} embedding output(s) for "
                f"{len(graph.inputs)} input(s), the network has {len(outputs)}",
                span,
                help="one input and one output f(x), or two inputs and two outputs of one "
                "shared embedding (see specs/siamese.cnn)",
            )
        )
    for name, nid in outputs:
        shape = graph.node(nid).shape
        if len(shape) != 1:
            problems.append(
                Diagnostic(
                    "error",
                    "E0763",
                    f"task `verify` needs an embedding vector, output `{name}` is {'x'.join(map(str, shape))}",
                    graph.output_spans.get(name),
                    notes=["the encoding f(x) is compared by ||f(x1) - f(x2)||^2: one vector per image"],
                    help="end with `-> global_avgpool -> dense(128) -> output ...`",
                )
            )
    if not problems and len(outputs) == 2:
        problems += _sharing_problems(graph, outputs)
    if problems:
        raise CnncError(problems)
    name, nid = outputs[0]
    return VerifyHead(
        inputs=tuple(graph.inputs), output=name, dim=int(graph.node(nid).shape[0]), siamese=len(outputs) == 2
    )


def _input_problems(graph: Graph) -> list[Diagnostic]:
    shapes = [tuple(graph.node(nid).shape) for nid in graph.inputs.values()]
    if len(shapes) in (1, 2) and all(len(s) == 3 for s in shapes) and len(set(shapes)) == 1:
        return []
    got = ", ".join(f"{n} {'x'.join(map(str, s))}" for n, s in zip(graph.inputs, shapes, strict=True)) or "none"
    return [
        Diagnostic(
            "error",
            "E0761",
            "task `verify` needs one image input, or two of one shape (siamese)",
            graph.span,
            notes=[f"the network's inputs: {got}"],
            help="declare `input x: 96x96x3` (an embedding network) or two such inputs",
        )
    ]


def _embedding_layer(graph: Graph, node: Node) -> Node | None:
    """The weights that compute an output: the nearest layer with weights upstream, its owner if shared."""
    while node.params.total == 0 and not node.shares and graph.input_ids(node.id):
        node = graph.node(graph.input_ids(node.id)[0])
    return graph.weight_owner(node) if node.params.total or node.shares else None


def _sharing_problems(graph: Graph, outputs: list[tuple[str, str]]) -> list[Diagnostic]:
    (first, a), (second, b) = outputs
    shapes = [graph.node(a).shape, graph.node(b).shape]
    owners = [_embedding_layer(graph, graph.node(nid)) for nid in (a, b)]
    if shapes[0] == shapes[1] and owners[0] is not None and owners[0] is owners[1]:
        return []
    why = (
        f"`{first}` is {shapes[0][0]} wide and `{second}` {shapes[1][0]}"
        if shapes[0] != shapes[1]
        else f"`{first}` and `{second}` are computed by different weights"
    )
    return [
        Diagnostic(
            "error",
            "E0764",
            "a siamese network's two outputs must be one embedding with shared weights",
            graph.output_spans.get(second),
            notes=[why],
            help="define the embedding once, `shared f = block(...)`, and apply `f` to both inputs",
        )
    ]
