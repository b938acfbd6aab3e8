"""Landmark detection at compile time: what the task reads from the spec's output.

The network outputs N points y = [l1x, l1y, ..., lNx, lNy] (fractions of the
image), optionally followed by the object's box [bx, by, bh, bw]: a vector of
2N or 2N + 4 units.  Where the network has a `num_points` parameter it says N,
and the width says whether the box is there; without one the width must be
even and is read as points alone.  The head is linear or ends in `sigmoid`
(every component is a fraction); a softmax would tie the points together and
is refused.
"""

from __future__ import annotations

from cnnc.diagnostics import CnncError, Diagnostic
from cnnc.ir.graph import Graph
from cnnc.tasks.checks import input_problem, the_output
from cnnc.tasks.landmarks.runtime.common import LandmarkHead

_POINT_PARAMS = ("num_points", "num_landmarks", "points", "landmarks")
_HELP = "end with `-> flatten -> dense(2 * num_points) -> output y` (or `dense(2 * num_points + 4)` with the box)"


def plan(graph: Graph) -> LandmarkHead:
    """The landmark head, or CnncError pointing at what does not fit."""
    problems: list[Diagnostic] = []
    problems.append(
        input_problem(graph, "landmarks", "E0731", "one image input (height x width x channels)", "input x: 64x64x1")
    )
    name, end, span, several = the_output(graph, "landmarks", "E0732", "the output [l1x, l1y, ..., lNx, lNy]")
    problems.append(several)
    points, width_problem = _points(graph, name, end.shape, span)
    if width_problem:
        problems.append(width_problem)
    if end.op.name == "softmax":
        problems.append(
            Diagnostic(
                "error",
                "E0734",
                "a softmax over the landmark coordinates ties the points to each other",
                span,
                help="end in `dense(2 * num_points)` (linear) or in `sigmoid`",
            )
        )
    problems = [p for p in problems if p is not None]  # the shared checks give None when they pass
    if problems:
        raise CnncError(problems)
    return _head(graph, name, end, points, graph.node(next(iter(graph.inputs.values()))).shape)


def _points(graph: Graph, name: str, shape: tuple, span) -> tuple[int, Diagnostic | None]:
    """N, or the E0733 diagnostic: the output is not 2N (or 2N + 4) units."""
    got = "x".join(map(str, shape))
    notes = ["the output is y = [l1x, l1y, ..., lNx, lNy] (two per point), optionally then the box [bx, by, bh, bw]"]
    param = next((p for p in _POINT_PARAMS if p in graph.params and isinstance(graph.params[p].value, int)), None)
    if len(shape) != 1 or shape[0] < 2:
        return 0, Diagnostic(
            "error",
            "E0733",
            f"task `landmarks` needs an output of 2N units (N points), output `{name}` is {got}",
            span,
            notes=notes,
            help=_HELP,
        )
    width = shape[0]
    if param is not None:
        n = graph.params[param].value
        if width in (2 * n, 2 * n + 4):
            return n, None
        return 0, Diagnostic(
            "error",
            "E0733",
            f"task `landmarks` needs an output of 2 * {param} units (or 2 * "
            f"{param} + 4 with the box), output `{name}` has {width}",
            span,
            notes=[f"2 * {param} = 2 * {n} = {2 * n}; with the box 2 * {n} + 4 = {2 * n + 4}"],
            help=f"end with `dense(2 * {param})`",
        )
    if width % 2:
        return 0, Diagnostic(
            "error",
            "E0733",
            f"task `landmarks` needs an output of 2N units (N points), output `{name}` has {width}, an odd number",
            span,
            notes=notes,
            help="add a `num_points` parameter and end with `dense(2 * num_points)` (`+ 4` for the box)",
        )
    return width // 2, None


def _head(graph: Graph, name: str, end, points: int, image: tuple) -> LandmarkHead:
    from cnnc.backends.naming import layer_name

    node = end
    while node.params.total == 0 and not node.shares and graph.input_ids(node.id):
        node = graph.node(graph.input_ids(node.id)[0])
    layer = graph.weight_owner(node) if node.params.total or node.shares else None
    return LandmarkHead(
        output=name,
        points=points,
        box=end.shape[0] == 2 * points + 4,
        size=(int(image[0]), int(image[1])),
        layer=layer_name(layer.id) if layer is not None else None,
    )
