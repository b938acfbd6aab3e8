"""Unit visualisation at compile time: the input, and the layer whose units are shown (by name, as
`cnnc summary` lists it; by default the last layer with weights and a feature map), with every
feature-map layer's receptive field from cnnc's receptive-field pass (cnnc/passes/receptive.py).
A name that is no layer, a layer without a feature map (E0777, E0778: the valid names listed) or a
unit the layer does not have (E0779) is a diagnostic."""

from __future__ import annotations

from cnnc.diagnostics import CnncError, Diagnostic
from cnnc.ir.graph import Graph
from cnnc.tasks.checks import feature_maps, input_problem, layer_problem
from cnnc.tasks.visualize.runtime.common import MAX_UNITS, VisualizeHead


def plan(graph: Graph, values: dict | None = None) -> VisualizeHead:
    values = values or {}
    problem = input_problem(graph, "visualize", "E0776", "one image input (H x W x C)", "input x: 32x32x1")
    if problem is not None:
        raise CnncError(problem)
    maps = feature_maps(graph)
    weighted = [n for n in maps if n.params.total or n.shares]
    if not maps:
        raise CnncError(
            Diagnostic(
                "error",
                "E0778",
                f"task `visualize` needs a layer with a feature map (H x W x C), `{graph.name}` has none",
                graph.span,
            )
        )
    layer = values.get("layer") or (weighted or maps)[-1].id
    problem = layer_problem(graph, layer, "visualize", "layer", "E0777", "E0778")
    if problem is not None:
        raise CnncError(problem)
    channels = graph.node(layer).shape[-1]
    units = tuple(values.get("units") or range(min(channels, MAX_UNITS)))
    wrong = [u for u in units if not 0 <= u < channels]
    if wrong:
        raise CnncError(
            Diagnostic(
                "error",
                "E0779",
                f"task `visualize`: layer `{layer}` has no unit {wrong[0]}",
                graph.span,
                notes=[f"its {channels} units are 0..{channels - 1}"],
            )
        )
    shape = graph.node(next(iter(graph.inputs.values()))).shape
    return VisualizeHead(next(iter(graph.inputs)), tuple(shape), layer, units)
