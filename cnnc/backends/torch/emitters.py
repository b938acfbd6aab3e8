"""The emitter table of the PyTorch backend: op name -> function from a `Site` to an `Emit`.

Importing the family modules registers their emitters (each with `@emits`).
"""

from __future__ import annotations

from cnnc.backends.torch import layers, windows
from cnnc.backends.torch.site import EMITTERS, FRESH, HELPERS, INPUT, OUTPUTS, SAVED, VIEW, Emit, Emitter, Site

__all__ = ["EMITTERS", "FRESH", "HELPERS", "INPUT", "OUTPUTS", "SAVED", "VIEW", "Emit", "Emitter", "Site",
           "check_coverage", "layers", "windows"]


def check_coverage(ops: dict) -> list[str]:
    """Ops without an emitter (the input op is the forward's arguments)."""
    return sorted(name for name in ops if name not in EMITTERS and name != "input")
