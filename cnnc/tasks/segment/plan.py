"""Semantic segmentation at compile time: what the task reads from the spec's output.

The output is a map over the input's spatial axes: H' x W' x K in 2D, D' x H' x W' x K in 3D, with
H' <= H (a valid-convolution U-Net's 388 of 572; the target is then the mask's centre).  Its channels
are read by the last op: `softmax` (K >= 2 class probabilities), `sigmoid` (one channel, the
foreground's probability) or a layer with weights (linear: K logits, or one logit; the softmax or
sigmoid is taken in the loss, as the U-Net paper's final 1x1 conv does).  Anything else (a vector, a
map of another rank or larger than the input, a softmax over one channel, a sigmoid over several, an
activation such as relu) is a diagnostic at the output's line.
"""

from __future__ import annotations

from cnnc.diagnostics import CnncError, Diagnostic
from cnnc.ir.graph import Graph
from cnnc.tasks.checks import input_problem, the_output
from cnnc.tasks.segment.runtime.common import SegmentHead
from cnnc.tasks.task import head_layer

_HELP = "end with a 1x1 conv to the classes, e.g. `-> conv(num_classes, 1) -> output y` (softmax optional)"


def plan(graph: Graph) -> SegmentHead:
    """The segmentation head, or CnncError pointing at what does not fit."""
    problems: list[Diagnostic] = []
    inputs = [graph.node(nid).shape for nid in graph.inputs.values()]
    what = "one image or volume input (H x W x C or D x H x W x C)"
    problems.append(input_problem(graph, "segment", "E0741", what, "input x: 64x64x1", ranks=(3, 4)))
    image = problems[-1] is None
    name, end, span, several = the_output(graph, "segment", "E0742", "the class map")
    problems.append(several)
    shape_problems = _map_problems(name, end.shape, inputs[0], span) if image else []
    activation = _activation(end)
    one = end.shape[-1] == 1
    bad = activation is None or (activation == "softmax" and one) or (activation == "sigmoid" and not one)
    if bad and not shape_problems:  # a vector's last op says nothing more about a map
        shape_problems.append(_activation_problem(name, end, span))
    problems = [p for p in problems if p is not None]  # the shared checks give None when they pass
    if problems + shape_problems:
        raise CnncError(problems + shape_problems)
    return _head(graph, name, end.id, inputs[0], activation)


def _error(code: str, message: str, span, notes: tuple[str, ...] = (), help: str = _HELP) -> Diagnostic:
    return Diagnostic("error", code, message, span, notes=list(notes), help=help)


def _map_problems(name: str, shape: tuple, input_shape: tuple, span) -> list[Diagnostic]:
    got, want = "x".join(map(str, shape)), "x".join(map(str, input_shape[:-1]))
    if len(shape) != len(input_shape):
        note = "a segmentation head gives K class scores per pixel: H' x W' x K (D' x H' x W' x K for volumes)"
        return [
            _error(
                "E0743",
                f"task `segment` needs a class map over the input's {want}, output `{name}` is {got}",
                span,
                (note,),
            )
        ]
    larger = [i for i, (o, n) in enumerate(zip(shape[:-1], input_shape[:-1])) if o > n]
    if larger:
        note = (
            "each output pixel labels an input pixel: the map is the input's size (same padding) or its centre "
            "(valid convolutions)"
        )
        return [
            _error(
                "E0743", f"output `{name}` ({got}) is larger than the input ({want}) on axis {larger[0]}", span, (note,)
            )
        ]
    return []


def _activation(end) -> str | None:
    if end.op.name in ("softmax", "sigmoid"):
        return end.op.name
    return "linear" if end.params.total or end.shares else None


def _activation_problem(name: str, end, span) -> Diagnostic:
    channels = end.shape[-1]
    if end.op.name == "softmax":
        message, fix = "a softmax over one channel is always 1", "end in `sigmoid` for foreground/background"
    elif end.op.name == "sigmoid":
        message = f"a sigmoid over {channels} channels scores each class on its own; one class per pixel is a softmax"
        fix = "end in `softmax` (or in the 1x1 conv: the loss takes the softmax), or in one sigmoid channel"
    else:
        message, fix = f"output `{name}` ends in `{end.op.name}`, not in class scores", _HELP
    note = "a segmentation head ends in softmax (K >= 2 channels), sigmoid (1 channel) or a layer with weights (logits)"
    return _error("E0744", message, span, (note,), help=fix)


def _head(graph: Graph, name: str, nid, input_shape: tuple, activation: str) -> SegmentHead:
    end = graph.node(nid)
    channels = int(end.shape[-1])
    return SegmentHead(
        output=name,
        channels=channels,
        classes=max(channels, 2),
        activation=activation,
        input_size=tuple(int(n) for n in input_shape[:-1]),
        output_size=tuple(int(n) for n in end.shape[:-1]),
        layer=head_layer(graph, nid),
    )
