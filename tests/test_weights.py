"""Weight layouts between PyTorch and Keras (framework-free), and the convert-weights command."""

from __future__ import annotations

import numpy as np
import pytest

from cnnc import weights
from cnnc.compiler import analyze

LAYOUTS = """
network Layouts() {
  input x: 5x4x3
  h = x -> conv(4, (3, 2), groups=1) -> batchnorm -> depthwise(3, multiplier=2, padding=1)
  h = h -> separable(5, 1, multiplier=2) -> conv_transpose(2, (2, 3), stride=2)
  h -> flatten -> dense(3) -> output y
}
"""


def _graph(spec_file, text=LAYOUTS):
    analysis = analyze(spec_file(text))
    assert analysis.ok, analysis.diagnostics
    return analysis.graph


def _state(rng) -> dict[str, np.ndarray]:
    """A PyTorch state dict of the Layouts network, shapes written out by hand."""
    shapes = {
        "conv1.weight": (4, 3, 3, 2), "conv1.bias": (4,),
        "batchnorm1.weight": (4,), "batchnorm1.bias": (4,), "batchnorm1.running_mean": (4,),
        "batchnorm1.running_var": (4,),
        "depthwise1.weight": (8, 1, 3, 3), "depthwise1.bias": (8,),
        "separable1.depthwise.weight": (16, 1, 1, 1), "separable1.pointwise.weight": (5, 16, 1, 1),
        "separable1.pointwise.bias": (5,),
        "conv_transpose1.weight": (5, 2, 2, 3), "conv_transpose1.bias": (2,),
        "dense1.weight": (3, 6 * 7 * 2), "dense1.bias": (3,),
    }
    state = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    state["batchnorm1.num_batches_tracked"] = np.array(0, dtype=np.int64)
    return state


def test_each_layout_moves_the_right_element(spec_file):
    graph = _graph(spec_file)
    state = _state(np.random.default_rng(0))
    k = weights.keras_weights_from_torch(graph, state)
    # conv: torch (out, in, kh, kw) -> Keras (kh, kw, in, out)
    assert k["conv1"][0].shape == (3, 2, 3, 4)
    assert k["conv1"][0][2, 1, 0, 3] == state["conv1.weight"][3, 0, 2, 1]
    # depthwise, multiplier 2: torch output channel c * 2 + j <-> Keras (kh, kw, c, j)
    assert k["depthwise1"][0].shape == (3, 3, 4, 2)
    assert k["depthwise1"][0][0, 2, 3, 1] == state["depthwise1.weight"][3 * 2 + 1, 0, 0, 2]
    # separable: depthwise kernel, pointwise kernel, bias
    assert [w.shape for w in k["separable1"]] == [(1, 1, 8, 2), (1, 1, 16, 5), (5,)]
    assert k["separable1"][1][0, 0, 7, 4] == state["separable1.pointwise.weight"][4, 7, 0, 0]
    # transposed conv: torch (in, out, kh, kw) -> Keras (kh, kw, out, in)
    assert k["conv_transpose1"][0].shape == (2, 3, 2, 5)
    assert k["conv_transpose1"][0][1, 2, 0, 4] == state["conv_transpose1.weight"][4, 0, 1, 2]
    # batch norm: gamma, beta, moving mean, moving variance
    np.testing.assert_array_equal(k["batchnorm1"][3], state["batchnorm1.running_var"])


def test_dense_after_flatten_takes_its_rows_in_keras_order(spec_file):
    graph = _graph(spec_file, """
network F() {
  input x: 2x2x3
  x -> flatten -> dense(1, bias=false) -> output y
}
""")
    # torch flattens (c, h, w); Keras (h, w, c): torch position i holds Keras value order[i]
    np.testing.assert_array_equal(weights.flat_orders(graph)["flatten1"], [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11])
    torch_row = np.arange(12, dtype=np.float32)[None, :]  # weight of torch input i is i
    kernel = weights.keras_weights_from_torch(graph, {"dense1.weight": torch_row})["dense1"][0]
    # Keras input (h, w, c) = (0, 1, 2) is torch input (c, h, w) = (2, 0, 1) = 2 * 4 + 0 * 2 + 1 = 9
    assert kernel.shape == (12, 1) and kernel[1 * 3 + 2, 0] == 9


def test_dense_before_reshape_writes_its_units_in_each_frameworks_order(spec_file):
    graph = _graph(spec_file, """
network G() {
  input z: 3
  z -> dense(8) -> relu -> reshape((2, 2, 2)) -> conv(1, 1) -> output y
}
""")
    state = {"dense1.weight": np.arange(24, dtype=np.float32).reshape(8, 3), "dense1.bias": np.arange(8.0),
             "conv1.weight": np.ones((1, 2, 1, 1)), "conv1.bias": np.zeros(1)}
    kernel, bias = weights.keras_weights_from_torch(graph, state)["dense1"]
    # Keras unit (h, w, c) = (1, 0, 1) -> index 5 is torch unit (c, h, w) = (1, 1, 0) -> index 6
    assert bias[5] == 6 and list(kernel[:, 5]) == [18, 19, 20]


def test_round_trip_is_exact_and_complete(spec_file):
    graph = _graph(spec_file)
    state = _state(np.random.default_rng(1))
    back = weights.torch_state_from_keras(graph, weights.keras_weights_from_torch(graph, state))
    assert back.keys() == state.keys()
    for key in state:
        np.testing.assert_array_equal(back[key], state[key])


def test_wrong_weight_count_is_reported(spec_file):
    graph = _graph(spec_file)
    k = weights.keras_weights_from_torch(graph, _state(np.random.default_rng(2)))
    k["conv1"] = k["conv1"][:1]
    with pytest.raises(ValueError, match="'conv1' has 1 weights, expected 2"):
        weights.torch_state_from_keras(graph, k)


def test_convert_weights_command_both_ways(tmp_path, spec_file):
    import torch

    from cnnc.cli import main

    spec = spec_file(LAYOUTS)
    state = {k: torch.from_numpy(v) for k, v in _state(np.random.default_rng(3)).items()}
    torch.save(state, tmp_path / "in.pt")
    keras_file, back = tmp_path / "w.weights.h5", tmp_path / "back.pt"
    assert main(["convert-weights", str(spec), "--from", "torch", "--to", "keras", str(tmp_path / "in.pt"),
                 str(keras_file)]) == 0
    assert main(["convert-weights", str(spec), "--from", "keras", "--to", "torch", str(keras_file), str(back)]) == 0
    restored = torch.load(back, weights_only=True)
    assert restored.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(restored[key], value), key
    assert main(["convert-weights", str(spec), "--from", "torch", "--to", "keras", "a.pt", "b.h5"]) == 2
