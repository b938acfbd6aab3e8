"""Shared by the Keras and differential tests: build both generated models of a spec and compare them.

Tolerance: an output agrees when every element satisfies
    |keras - torch| <= RTOL * max |torch|
i.e. 1e-4 relative to the output's own scale (its largest magnitude), so a softmax
output of 1000 near-equal classes is held to ~1e-7 absolute, not to 1e-4.
"""

from __future__ import annotations

import os
import types
from pathlib import Path

import numpy as np

from cnnc.compiler import Analysis, analyze

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
RTOL = 1e-4
# Tried in order: the smallest input (as a fraction of the spec's own) that still checks.
REDUCTIONS = (0.25, 0.34, 0.5, 0.75)


def library_specs() -> list[Path]:
    return sorted((ROOT / "specs").glob("*.cnn"))


def is_big(path: Path) -> bool:
    """Over 5M parameters or 150 layers: its end-to-end checks are marked slow."""
    analysis = analyze(path)
    return analysis.ok and (analysis.cost.params.total > 5_000_000 or len(analysis.graph) > 150)


def own_specs() -> list[Path]:
    return sorted((ROOT / "tests" / "specs_keras").glob("*.cnn"))


def reduced(path: Path) -> Analysis:
    """The spec at the smallest reduced input size it accepts (its own size if none)."""
    full = analyze(path)
    assert full.ok, full.diagnostics
    for factor in REDUCTIONS:
        shapes = {name: _scaled(full.graph.node(node).shape, factor) for name, node in full.graph.inputs.items()}
        smaller = analyze(path, input_shapes=shapes)
        if smaller.ok:
            return smaller
    return full


def _scaled(shape: tuple, factor: float) -> tuple:
    if len(shape) < 2:
        return shape
    return tuple(max(1, round(d * factor)) for d in shape[:-1]) + (shape[-1],)


def load(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def torch_model(analysis: Analysis, seed: int = 0):
    """The generated PyTorch model with random weights, batch-norm statistics included, in eval mode."""
    import torch

    from cnnc.backends import torch as torch_backend

    torch.manual_seed(seed)
    model = load(torch_backend.generate(analysis)["model.py"], "generated_torch").build_model()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                c = module.num_features
                module.running_mean.copy_(torch.randn(c, generator=generator) * 0.2)
                module.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
                if module.weight is not None:
                    module.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                if module.bias is not None:
                    module.bias.copy_(torch.randn(c, generator=generator) * 0.2)
            elif name and getattr(module, "bias", None) is not None and isinstance(module.bias, torch.Tensor):
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
    return model.eval()


def keras_model(analysis: Analysis):
    from cnnc.backends.keras import build

    return build(analysis.graph)


def random_inputs(analysis: Analysis, batch: int = 2, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    graph = analysis.graph
    return [rng.standard_normal((batch, *graph.node(i).shape)).astype(np.float32) for i in graph.inputs.values()]


def run_torch(model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    import torch

    with torch.no_grad():
        out = model(*(torch.from_numpy(_channels_first(x)) for x in inputs))
    out = out if isinstance(out, tuple) else (out,)
    return [o.numpy() for o in out]


def run_keras(model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    out = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    out = out if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(o) for o in out]


def _channels_first(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(x, -1, 1)) if x.ndim > 2 else x


def torch_output_as_keras(analysis: Analysis, name: str, value: np.ndarray) -> np.ndarray:
    """A PyTorch output in Keras' layout: channels last, a flat output in Keras' order."""
    from cnnc.weights import flat_orders

    node = analysis.graph.outputs[name]
    if value.ndim > 2:
        return np.moveaxis(value, 1, -1)
    order = flat_orders(analysis.graph)[node]
    if order is None:
        return value
    out = np.empty_like(value)
    out[:, order] = value
    return out


def mismatch(keras_out: np.ndarray, torch_out: np.ndarray) -> float:
    """The worst error as a fraction of the tolerance (<= 1 passes)."""
    scale = max(1e-12, float(np.abs(torch_out).max()))
    return float(np.abs(keras_out - torch_out).max()) / (RTOL * scale)


def randomize_keras(model, seed: int = 0) -> None:
    """Random biases and batch-norm statistics (Keras starts them at 0 and 1, which would hide a swap)."""
    rng = np.random.default_rng(seed)
    draws = {
        "bias": lambda shape: rng.standard_normal(shape) * 0.1,
        "beta": lambda shape: rng.standard_normal(shape) * 0.2,
        "moving_mean": lambda shape: rng.standard_normal(shape) * 0.2,
        "gamma": lambda shape: rng.uniform(0.5, 1.5, shape),
        "moving_variance": lambda shape: rng.uniform(0.5, 1.5, shape),
    }
    for variable in model.weights:
        if variable.name in draws:
            variable.assign(draws[variable.name](tuple(variable.shape)).astype(np.float32))


def torch_model_with(analysis: Analysis, state: dict):
    """The generated PyTorch model with the given state dict (every key must match), in eval mode."""
    from cnnc.backends import torch as torch_backend

    model = load(torch_backend.generate(analysis)["model.py"], "generated_torch").build_model()
    model.load_state_dict(state, strict=True)
    return model.eval()
