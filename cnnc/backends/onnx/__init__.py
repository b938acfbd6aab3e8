"""ONNX backend: a checked network as an ONNX model (`model.onnx`), built with the onnx package's
helpers from the IR, with no round trip through a framework.

`generate` is what `cnnc compile --target onnx` calls; the op emitters live in `windows.py` and
`layers.py` (one table, as in the other backends), the graph in `model.py`, the weights (a
PyTorch state dict or PyTorch's initialisation) in `weights.py`.  An op that ONNX cannot express
names the reason in its record (`Op.onnx`); compile then stops with a diagnostic at its line.
"""

from __future__ import annotations

from cnnc.backends.onnx.model import build_model


def generate(analysis, options=None) -> dict[str, bytes]:
    """{file name: contents} for a checked analysis."""
    if analysis.graph is None:
        raise ValueError("the analysis has errors: nothing to compile")
    state = getattr(options, "state", None)
    return {"model.onnx": build_model(analysis.graph, state).SerializeToString()}
