"""The checks that every task's plan makes of a spec's inputs and output, each with the task's own code.

A task needs one input of the ranks it reads (an image, or also a volume) and trains one output; what it
then asks of that output (its width, its activation) is the task's own business, in its plan.py.
"""

from __future__ import annotations

from cnnc.diagnostics import Diagnostic
from cnnc.ir.graph import Graph, Node


def input_problem(graph: Graph, task: str, code: str, what: str, example: str, ranks: tuple[int, ...] = (3,)):
    """A Diagnostic at the network when it does not have exactly one input of one of `ranks`, else None."""
    shapes = [graph.node(nid).shape for nid in graph.inputs.values()]
    if len(shapes) == 1 and len(shapes[0]) in ranks:
        return None
    return Diagnostic(
        "error", code, f"task `{task}` needs {what}", graph.span, help=f"declare one input such as `{example}`"
    )


def the_output(graph: Graph, task: str, code: str, keep: str) -> tuple[str, Node, object, Diagnostic | None]:
    """(name, node, span) of the first output, and a Diagnostic at it when the network has several."""
    name, nid = next(iter(graph.outputs.items()))
    end, span = graph.node(nid), graph.output_spans.get(name)
    problem = None
    if len(graph.outputs) != 1:
        problem = Diagnostic(
            "error",
            code,
            f"task `{task}` trains one output, the network has {len(graph.outputs)}",
            span,
            help=f"keep only {keep}",
        )
    return name, end, span, problem


def feature_maps(graph: Graph) -> list[Node]:
    """The layers whose output is a feature map (H x W x C), in the spec's order: the ones whose activations
    style transfer compares and unit visualisation ranks."""
    inputs = set(graph.inputs.values())
    return [n for n in graph.topological() if len(n.shape) == 3 and n.id not in inputs]


def layer_problem(graph: Graph, name: str, task: str, what: str, unknown: str, not_map: str):
    """A Diagnostic at the network when `name` (a layer as `cnnc summary` lists it, given for `what`) is no
    layer (code `unknown`: the valid names listed) or has no feature map (code `not_map`), else None."""
    from cnnc.diagnostics import did_you_mean

    valid = [n.id for n in feature_maps(graph)]
    if name in valid:
        return None
    listed = "layers with a feature map: " + ", ".join(valid)
    if name in graph:
        shape = "x".join(map(str, graph.node(name).shape))
        return Diagnostic(
            "error",
            not_map,
            f"task `{task}`: {what} `{name}` is {shape}, not a feature map (H x W x C)",
            graph.span,
            notes=[listed],
            help="name a conv, pool or activation layer",
        )
    return Diagnostic(
        "error",
        unknown,
        f"task `{task}`: {what} `{name}` is no layer of `{graph.name}`",
        graph.span,
        notes=[listed],
        help=did_you_mean(name, valid) or "`cnnc summary SPEC` lists them",
    )


# what may stand between a layer with weights and the activation read after it (PyTorch: FUNCTIONAL in train.py)
ELEMENTWISE = (
    "relu",
    "relu6",
    "sigmoid",
    "tanh",
    "swish",
    "hard_swish",
    "hard_sigmoid",
    "gelu",
    "leaky_relu",
    "elu",
    "dropout",
    "identity",
)


def weights_before(graph: Graph, node: Node) -> tuple[Node, list[Node]] | None:
    """(the layer with weights, the activations from it to `node`) where `node` is an activation right after
    one (conv -> relu, conv -> bn -> relu: the layers Gatys et al. read), else None."""
    chain, source = [], node
    while source.op.name in ELEMENTWISE and len(graph.input_ids(source.id)) == 1:
        chain.append(source)
        source = graph.node(graph.input_ids(source.id)[0])
    return (source, chain[::-1]) if chain and source.params.total and not source.shares else None


def functional_taps(graph) -> dict[str, tuple[str, tuple]]:
    """spec name -> (the module path of the layer with weights it comes from, the activations after it, each
    (op, alpha)) for every feature map reached from a layer with weights through activations alone."""
    from cnnc.ir.names import module_path

    taps = {}
    for node in feature_maps(graph):
        found = weights_before(graph, node)
        if found is not None:
            chain = tuple((n.op.name, float(getattr(n.attrs, "alpha", 0.0) or 0.0)) for n in found[1])
            taps[node.id] = (module_path(found[0].id), chain)
    return taps
