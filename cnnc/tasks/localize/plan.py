"""Classification with localization at compile time: what the task reads from the spec's output.

The material's formulation: the network outputs y = [pc, bx, by, bh, bw, c1..cK]
(object present, the box's midpoint and size relative to the image, the class
scores), so the output is a vector of 5 + K units with K >= 1.  Where the
network has a `num_classes` parameter, the output must be 5 + num_classes wide.
The last op decides how the components are read: `sigmoid` (every component is
a probability or a fraction already) or none (linear: the material's squared
error on raw outputs; the logistic loss puts the sigmoid and the softmax inside
the loss).  A softmax over all 5 + K units would tie the box to the classes:
refused.
"""

from __future__ import annotations

from cnnc.diagnostics import CnncError, Diagnostic
from cnnc.ir.graph import Graph
from cnnc.tasks.checks import input_problem, the_output
from cnnc.tasks.localize.runtime.common import LocalizeHead

_CLASS_PARAMS = ("num_classes", "classes")


def plan(graph: Graph) -> LocalizeHead:
    """The localization head, or CnncError pointing at what does not fit."""
    problems: list[Diagnostic] = []
    image = "one image input (height x width x channels)"
    problems.append(input_problem(graph, "localize", "E0711", image, "input x: 64x64x1"))
    name, end, span, several = the_output(graph, "localize", "E0712", "the output [pc, bx, by, bh, bw, c1..cK]")
    problems.append(several)
    shape, nid = end.shape, end.id
    if len(shape) != 1 or shape[0] < 6:
        problems.append(_width_problem(name, shape, span))
    else:
        problems += _class_param_problems(graph, name, shape[0], span)
    end = graph.node(nid)
    if end.op.name == "softmax":
        problems.append(
            Diagnostic(
                "error",
                "E0714",
                "a softmax over [pc, bx, by, bh, bw, c1..cK] ties the box to the classes",
                span,
                help="end in `dense(5 + num_classes)` (linear; the "
                "logistic loss applies the softmax to the classes alone) or in `sigmoid`",
            )
        )
    problems = [p for p in problems if p is not None]  # the shared checks give None when they pass
    if problems:
        raise CnncError(problems)
    return _head(graph, name, nid)


def _width_problem(name: str, shape: tuple, span) -> Diagnostic:
    got = "x".join(map(str, shape))
    return Diagnostic(
        "error",
        "E0713",
        f"task `localize` needs an output of 5 + K units, output `{name}` is {got}",
        span,
        notes=[
            "the output is y = [pc, bx, by, bh, bw, c1..cK]: object present, box midpoint and size, K >= 1 class scores"
        ],
        help="end with `-> flatten -> dense(5 + num_classes) -> output y`",
    )


def _class_param_problems(graph: Graph, name: str, width: int, span) -> list[Diagnostic]:
    param = next((p for p in _CLASS_PARAMS if p in graph.params), None)
    if param is None:
        return []
    classes = graph.params[param].value
    if isinstance(classes, int) and width != 5 + classes:
        return [
            Diagnostic(
                "error",
                "E0713",
                f"task `localize` needs an output of 5 + {param} units, output `{name}` has {width}",
                span,
                notes=[f"5 + {param} = 5 + {classes} = {5 + classes}"],
                help=f"end with `dense(5 + {param})`",
            )
        ]
    return []


def _head(graph: Graph, name: str, nid) -> LocalizeHead:
    from cnnc.backends.naming import layer_name

    end = graph.node(nid)
    node = end
    while node.params.total == 0 and not node.shares and graph.input_ids(node.id):
        node = graph.node(graph.input_ids(node.id)[0])
    layer = graph.weight_owner(node) if node.params.total or node.shares else None
    return LocalizeHead(
        output=name,
        classes=end.shape[0] - 5,
        activation="sigmoid" if end.op.name == "sigmoid" else "linear",
        layer=layer_name(layer.id) if layer is not None else None,
    )
