"""ONNX backend: a checked network as an ONNX model (`model.onnx`), built with the onnx package's
helpers from the IR, with no round trip through a framework.

`generate` is what `cnnc compile --target onnx` calls; the op emitters live in `windows.py` and
`layers.py` (one table, as in the other backends), the graph in `model.py`, the weights (a
PyTorch state dict or PyTorch's initialisation) in `weights.py`.  An op that ONNX cannot express
names the reason in its record (`Op.not_in_onnx`); compile then stops with E0801 at its line.
"""

from __future__ import annotations

from cnnc.backends.onnx.model import build_model
from cnnc.diagnostics import CnncError, Diagnostic
from cnnc.ir.graph import Graph


def generate(analysis, options=None) -> dict[str, bytes]:
    """{file name: contents} for a checked analysis; `CnncError` if an op has no ONNX form."""
    if analysis.graph is None:
        raise ValueError("the analysis has errors: nothing to compile")
    refused = unexportable(analysis.graph)
    if refused:
        raise CnncError(refused)
    state = getattr(options, "state", None)
    return {"model.onnx": build_model(analysis.graph, state).SerializeToString()}


def unexportable(graph: Graph) -> list[Diagnostic]:
    """E0801 at every use of an op whose record says ONNX cannot express it."""
    return [
        Diagnostic(
            "error", "E0801", f"`{node.op.name}` cannot be exported to ONNX", node.span, notes=[node.op.not_in_onnx]
        )
        for node in graph.topological()
        if node.op.not_in_onnx
    ]
