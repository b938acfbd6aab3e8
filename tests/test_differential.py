"""The same weights give the same outputs in the generated PyTorch and Keras models.

For every spec of the library (at a reduced input size where the spec allows it)
and every spec of tests/specs_keras (at its own size): random weights and
batch-norm statistics in one framework, moved with cnnc.weights, the same random
input, inference mode; each output must agree within differential.RTOL of its scale.
"""

from __future__ import annotations

import pytest
from differential import (
    is_big,
    keras_model,
    library_specs,
    mismatch,
    own_specs,
    random_inputs,
    randomize_keras,
    reduced,
    run_keras,
    run_torch,
    torch_model,
    torch_model_with,
    torch_output_as_keras,
)

from cnnc.compiler import analyze
from cnnc.weights import load_torch_state_into_keras, torch_state_dict_from_keras

CASES = [
    pytest.param(p, True, id=f"specs/{p.stem}", marks=[pytest.mark.slow] if is_big(p) else []) for p in library_specs()
]
CASES += [pytest.param(p, False, id=f"specs_keras/{p.stem}") for p in own_specs()]


def _assert_agree(analysis, torch_outputs, keras_outputs) -> None:
    assert len(torch_outputs) == len(keras_outputs) == len(analysis.graph.outputs)
    for name, t, k in zip(analysis.graph.outputs, torch_outputs, keras_outputs):
        t = torch_output_as_keras(analysis, name, t)
        assert k.shape == t.shape, name
        assert mismatch(k, t) <= 1.0, f"output {name}: {mismatch(k, t):.3g} x the tolerance"


@pytest.mark.parametrize("path, reduce", CASES)
def test_torch_weights_in_keras(path, reduce):
    analysis = reduced(path) if reduce else analyze(path)
    source = torch_model(analysis)
    target = keras_model(analysis)
    load_torch_state_into_keras(analysis.graph, source.state_dict(), target)
    inputs = random_inputs(analysis)
    _assert_agree(analysis, run_torch(source, inputs), run_keras(target, inputs))


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in own_specs()])
def test_keras_weights_in_torch(path):
    analysis = analyze(path)
    source = keras_model(analysis)
    randomize_keras(source)
    target = torch_model_with(analysis, torch_state_dict_from_keras(analysis.graph, source))
    inputs = random_inputs(analysis)
    _assert_agree(analysis, run_torch(target, inputs), run_keras(source, inputs))
