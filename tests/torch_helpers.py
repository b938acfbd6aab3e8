"""Shared by the PyTorch backend tests: compile a spec, load the generated module, count what it holds."""

from __future__ import annotations

import types
from pathlib import Path

import torch

from cnnc.backends.torch import generate
from cnnc.compiler import Analysis, analyze

ROOT = Path(__file__).resolve().parent.parent
OWN_SPECS = ROOT / "tests" / "specs_torch"


def compile_spec(path: Path | str, text: str | None = None, **overrides: object) -> tuple[Analysis, str]:
    analysis = analyze(path, text, overrides=overrides or None)
    assert analysis.ok, [str(d.message) for d in analysis.diagnostics]
    return analysis, generate(analysis, None)["model.py"]


def load(source: str, name: str = "generated_model") -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"{name}.py", "exec", dont_inherit=True), module.__dict__)
    return module


def build(path: Path | str, text: str | None = None, **overrides: object):
    """(analysis, module, model) for a spec."""
    analysis, source = compile_spec(path, text, **overrides)
    module = load(source)
    return analysis, module, module.build_model()


def param_counts(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, non-trainable) as the IR counts them: buffers (not the BN step counter) and frozen params."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    buffers = sum(b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked"))
    return trainable, frozen + buffers


def example_inputs(module: types.ModuleType, batch: int = 2, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, *shape, generator=generator) for shape in module.INPUTS.values()]


def as_tuple(out) -> tuple[torch.Tensor, ...]:
    return out if isinstance(out, tuple) else (out,)
