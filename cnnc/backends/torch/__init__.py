"""PyTorch backend: a checked network as one readable, fast `nn.Module` (`model.py`).

`generate` is what `cnnc compile --target torch` calls; the op emitters live in
`emitters.py`, the module layout in `model.py`.
"""

from __future__ import annotations

from cnnc.backends.torch.model import render_model


def generate(analysis, options=None) -> dict[str, str]:
    """{file name: source} for a checked analysis."""
    if analysis.graph is None:
        raise ValueError("the analysis has errors: nothing to compile")
    return {"model.py": render_model(analysis.graph).src}
