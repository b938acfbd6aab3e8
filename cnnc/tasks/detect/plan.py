"""Detection at compile time: what the task reads from the spec's output, or diagnostics where it does not fit.

YOLOv2's head: one image input, one output that is a grid S_h x S_w x
A(5 + C), each cell holding A anchors x (t_x, t_y, t_w, t_h, t_o, C class
scores).  The network's parameters say how the channels split: `anchors` and
`num_classes` (or `classes`) when it has them (both: the channels must be
their product; one: the other follows), otherwise the diagnostic asks for
them.  The output must be linear: the loss applies the sigmoids and the
softmax to the right numbers itself, so an activation over all channels
would mix box numbers with class scores.
"""

from __future__ import annotations

from cnnc.diagnostics import CnncError, Diagnostic
from cnnc.ir.graph import Graph
from cnnc.tasks.checks import input_problem, the_output
from cnnc.tasks.detect.runtime.common import DetectHead

_CLASS_PARAMS = ("num_classes", "classes")
_ANCHOR_PARAMS = ("anchors", "num_anchors")
_ACTIVATIONS = ("softmax", "sigmoid", "relu", "relu6", "tanh", "leaky_relu", "elu", "swish", "hard_swish")


def plan(graph: Graph) -> DetectHead:
    """The detection head, or CnncError pointing at what does not fit."""
    problems: list[Diagnostic] = []
    problems.append(
        input_problem(graph, "detect", "E0721", "one image input (height x width x channels)", "input x: 416x416x3")
    )
    name, end, span, several = the_output(graph, "detect", "E0722", "the grid output")
    problems.append(several)
    split = None
    if len(end.shape) != 3:
        got = "x".join(map(str, end.shape))
        problems.append(
            Diagnostic(
                "error",
                "E0723",
                f"task `detect` needs a grid output S x S x A(5 + C), output `{name}` is {got}",
                span,
                notes=[_GRID_NOTE],
                help="end with a 1x1 conv: `conv(anchors * (5 + num_classes), 1) -> output y`",
            )
        )
    else:
        split, problem = _anchors_and_classes(graph, name, end.shape[2], span)
        problems += [problem] if problem else []
    if end.op.name in _ACTIVATIONS:
        problems.append(
            Diagnostic(
                "error",
                "E0724",
                f"the grid output `{name}` ends in `{end.op.name}`",
                span,
                notes=[
                    "the loss applies the sigmoid to t_x, t_y, t_o and the softmax to the "
                    "class scores itself; t_w, t_h stay linear"
                ],
                help=f"remove the `{end.op.name}` before the output",
            )
        )
    problems = [p for p in problems if p is not None]  # the shared checks give None when they pass
    if problems:
        raise CnncError(problems)
    return _head(graph, name, end.id, *split)


_GRID_NOTE = "per cell: A anchors x (t_x, t_y, t_w, t_h, t_o, c_1..c_C), as YOLOv2"


def _param(graph: Graph, names: tuple[str, ...]) -> tuple[str, int] | tuple[None, None]:
    for name in names:
        if name in graph.params and isinstance(graph.params[name].value, int):
            return name, graph.params[name].value
    return None, None


def _anchors_and_classes(graph: Graph, name: str, channels: int, span):
    """(anchors, classes) from the network's parameters and the channel count, or a diagnostic."""
    a_name, anchors = _param(graph, _ANCHOR_PARAMS)
    c_name, classes = _param(graph, _CLASS_PARAMS)
    if anchors and classes:
        if anchors * (5 + classes) == channels:
            return (anchors, classes), None
        note = f"{a_name} * (5 + {c_name}) = {anchors} * (5 + {classes}) = {anchors * (5 + classes)}"
    elif anchors and channels % anchors == 0 and channels // anchors > 5:
        return (anchors, channels // anchors - 5), None
    elif classes and channels % (5 + classes) == 0:
        return (channels // (5 + classes), classes), None
    elif anchors or classes:
        given = f"{a_name} = {anchors}" if anchors else f"{c_name} = {classes}"
        note = f"{channels} channels do not split into A(5 + C) with {given}"
    else:
        return None, Diagnostic(
            "error",
            "E0725",
            f"cannot tell the anchors and classes of output `{name}` ({channels} channels)",
            span,
            notes=[_GRID_NOTE],
            help="give the network parameters `anchors: int` and `num_classes: int`",
        )
    return None, Diagnostic(
        "error",
        "E0723",
        f"output `{name}` has {channels} channels, not anchors x (5 + classes)",
        span,
        notes=[note, _GRID_NOTE],
        help="end with `conv(anchors * (5 + num_classes), 1)`",
    )


def _head(graph: Graph, name: str, nid, anchors: int, classes: int) -> DetectHead:
    from cnnc.backends.naming import layer_name

    end = graph.node(nid)
    node = end
    while node.params.total == 0 and not node.shares and graph.input_ids(node.id):
        node = graph.node(graph.input_ids(node.id)[0])
    layer = graph.weight_owner(node) if node.params.total or node.shares else None
    return DetectHead(
        output=name,
        grid=(int(end.shape[0]), int(end.shape[1])),
        anchors=anchors,
        classes=classes,
        layer=layer_name(layer.id) if layer is not None else None,
    )
