"""Style transfer at compile time: what the task reads from the spec, and the layers its costs compare.

Any spec serves as the feature network: it needs one image input (H x W x C, 1 or 3 channels; the
generated image G has its size) and layers with a feature map.  The content layer and the style layers
are named as `cnnc summary` lists them (`features.22` in vgg19.cnn, `block4.relu2` in keras_vgg19.cnn);
without names the plan picks Gatys et al.'s for a VGG: by resolution level (the layers between two
downsamplings), the first activation of each of the first five levels for the style, and the second
activation of the fourth level (conv4_2) for the content.  A name that is no layer, or a layer without a
feature map, is a diagnostic that lists the valid names (E0772, E0773).
"""

from __future__ import annotations

from cnnc.diagnostics import CnncError, Diagnostic
from cnnc.ir.graph import Graph, Node
from cnnc.tasks.checks import feature_maps, input_problem, layer_problem, weights_before
from cnnc.tasks.style.runtime.common import StyleHead

ACTIVATIONS = ("relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh", "swish", "silu", "hard_swish")


def plan(graph: Graph, values: dict | None = None) -> StyleHead:
    """The head (input, size, layers and lambdas), or CnncError pointing at what does not fit."""
    values = values or {}
    problem = input_problem(graph, "style", "E0771", "one image input (H x W x 1 or 3)", "input x: 128x128x3")
    shape = graph.node(next(iter(graph.inputs.values()))).shape if graph.inputs else ()
    if problem is None and shape[2] not in (1, 3):
        problem = Diagnostic(
            "error",
            "E0771",
            f"task `style` needs an image of 1 or 3 channels, the input has {shape[2]}",
            graph.span,
            help="declare an input such as `input x: 128x128x3`",
        )
    if problem is not None:
        raise CnncError(problem)
    content, style = _default_layers(graph)
    content = values.get("content_layer") or content
    style = tuple(values.get("style_layers") or style)
    problems = [
        p
        for name, what in [(content, "content layer"), *((s, "style layer") for s in style)]
        if (p := layer_problem(graph, name, "style", what, "E0772", "E0773")) is not None
    ]
    weights = tuple(values.get("style_weights") or ())
    if weights and len(weights) != len(style):
        problems.append(
            Diagnostic(
                "error",
                "E0774",
                f"task `style`: {len(weights)} style weights for {len(style)} style layers",
                graph.span,
                help="give one lambda per style layer, in the order of --style-layers",
            )
        )
    if problems:
        raise CnncError(problems)
    weights = weights or tuple(round(1.0 / len(style), 6) for _ in style)
    return StyleHead(next(iter(graph.inputs)), tuple(shape), content, style, weights)


def _default_layers(graph: Graph) -> tuple[str, tuple[str, ...]]:
    """Gatys et al.'s layers for a VGG, by resolution level: (conv4_2's activation, conv1_1 .. conv5_1's)."""
    levels: dict[tuple[int, int], list[Node]] = {}
    for node in feature_maps(graph):
        if node.op.name not in ("zeropad", "cropping", "crop"):  # padding makes no level of its own
            levels.setdefault(tuple(node.shape[:2]), []).append(node)
    picks = [
        [n for n in nodes if n.op.name in ACTIVATIONS and weights_before(graph, n)]
        or [n for n in nodes if n.op.name in ACTIVATIONS]
        or nodes
        for nodes in levels.values()
    ]
    if not picks:
        raise CnncError(
            Diagnostic(
                "error",
                "E0773",
                f"task `style` needs layers with a feature map (H x W x C), `{graph.name}` has none",
                graph.span,
            )
        )
    style = tuple(level[0].id for level in picks[:5])
    fourth = picks[min(3, len(picks) - 1)]
    return fourth[min(1, len(fourth) - 1)].id, style
