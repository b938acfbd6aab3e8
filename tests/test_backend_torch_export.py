"""Generated modules under torch.compile, torch.export, channels_last and autocast.

On one residual spec and one branching (inception, two outputs) spec.
`fullgraph=True` fails on any graph break, so a pass proves the whole
forward is one traceable graph; the default-backend (inductor) run is slow
and marked so, the aot_eager run covers the same capture quickly.
"""

from __future__ import annotations

import pytest
import torch
from torch_helpers import OWN_SPECS, as_tuple, build, example_inputs

SPECS = ["residual", "inception"]


def _model(name: str):
    _, module, model = build(OWN_SPECS / f"{name}.cnn")
    torch.manual_seed(0)
    return model.eval(), example_inputs(module)


def _close(got, want, atol: float = 1e-5) -> bool:
    got, want = as_tuple(got), as_tuple(want)
    return len(got) == len(want) and all(
        g.shape == w.shape and torch.allclose(g.float(), w.float(), atol=atol) for g, w in zip(got, want))


@pytest.mark.parametrize("name", SPECS)
def test_torch_compile_fullgraph_captures_forward_and_backward(name):
    model, inputs = _model(name)
    with torch.no_grad():
        expected = model(*inputs)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        assert _close(compiled(*inputs), expected)
    model.train()
    loss = sum(o.square().mean() for o in as_tuple(compiled(*inputs)))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.slow
@pytest.mark.parametrize("name", SPECS)
def test_torch_compile_fullgraph_with_inductor(name):
    model, inputs = _model(name)
    with torch.no_grad():
        expected = model(*inputs)
        torch._dynamo.reset()
        assert _close(torch.compile(model, fullgraph=True)(*inputs), expected, atol=1e-4)


@pytest.mark.parametrize("name", SPECS)
def test_torch_export(name):
    model, inputs = _model(name)
    program = torch.export.export(model, tuple(inputs))
    with torch.no_grad():
        assert _close(program.module()(*inputs), model(*inputs))


@pytest.mark.parametrize("name", SPECS)
def test_channels_last(name):
    model, inputs = _model(name)
    with torch.no_grad():
        expected = model(*inputs)
        model = model.to(memory_format=torch.channels_last)
        assert all(p.is_contiguous(memory_format=torch.channels_last) for p in model.parameters() if p.dim() == 4)
        got = model(*(x.contiguous(memory_format=torch.channels_last) for x in inputs))
    assert _close(got, expected)


@pytest.mark.parametrize("name", SPECS)
def test_autocast_bfloat16_on_cpu(name):
    model, inputs = _model(name)
    with torch.no_grad():
        expected = model(*inputs)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = as_tuple(model(*inputs))
    assert all(o.dtype == torch.bfloat16 for o in got)
    assert _close(got, expected, atol=0.05)


@pytest.mark.parametrize("name", ["ops_2d", "ops_1d", "ops_3d", "siamese"])
def test_every_op_traces_whole(name):
    """The specs that use every op, 1D to 3D: one graph for torch.export and for torch.compile(fullgraph)."""
    model, inputs = _model(name)
    with torch.no_grad():
        expected = model(*inputs)
        assert _close(torch.export.export(model, tuple(inputs)).module()(*inputs), expected)
        torch._dynamo.reset()
        assert _close(torch.compile(model, fullgraph=True, backend="aot_eager")(*inputs), expected)
