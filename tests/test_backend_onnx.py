"""The ONNX backend: for every spec of the library (and the backends' own op specs) the model is a
valid ONNX model, ONNX's shape inference agrees with cnnc on every value, and onnxruntime computes
what the generated PyTorch model computes on the same weights and input.

The library runs at a reduced input size where the spec allows it (differential.reduced); big
networks (over 5M parameters or 150 layers) are marked slow, as in test_differential.py.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from differential import is_big, library_specs, random_inputs, reduced, run_torch, torch_model

from cnnc import build
from cnnc.backends.common import channels_first
from cnnc.backends.onnx.model import BATCH, OPSET, build_model, value_names
from cnnc.backends.onnx.site import EMITTERS
from cnnc.cli import main
from cnnc.compiler import Analysis, analyze
from cnnc.ir import ops
from cnnc.weights import keras_weights_from_torch

ROOT = Path(__file__).resolve().parent.parent
OWN = sorted((ROOT / "tests" / "specs_torch").glob("ops_*.cnn")) + sorted(
    (ROOT / "tests" / "specs_keras").glob("*.cnn")
)
TOLERANCE = 1e-4  # max abs difference, onnxruntime against PyTorch


LIBRARY = [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if is_big(p) else []) for p in library_specs()]
CORNERS = """network Corners() {
  input x: 13x11x6
  input v: 20
  a = x -> lrn(4, alpha=1e-2, beta=0.5, k=1.5) -> adaptive_avgpool((4, 3)) -> gelu   # even LRN, uneven windows
  b = x -> depthwise(3, multiplier=2, padding=same, stride=2) -> hard_sigmoid
        -> conv_transpose(5, 1, stride=2, padding=same) -> elu(0.7)                  # kernel < stride
  c = x -> separable(12, 3, stride=2, padding=same) -> hard_swish
        -> conv_transpose(5, 4, stride=2, padding=same) -> leaky_relu(0.2)           # odd kernel - stride
  d = x -> conv(6, 3, weights=sobel_x, bias=false, padding=same, stride=2) -> relu6
        -> conv(10, 3, groups=2, padding=(1, 2), frozen=true) -> batchnorm(scale=false) -> swish
  e = x -> avgpool(3, stride=2, padding=1, ceil=true) -> maxpool(2, ceil=true) -> batchnorm(center=false)
  w = v -> lrn(5) -> dense(5) -> softmax
  f = concat(a, b -> global_avgpool(keepdims=true) -> upsample((4, 3)))
  f -> output f
  c -> output c
  d -> output d
  e -> output e
  w -> output w
}
"""


def _run_onnx(model: onnx.ModelProto, analysis: Analysis, inputs: list[np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {
        name: np.ascontiguousarray(np.moveaxis(x, -1, 1)) if x.ndim > 2 else x
        for name, x in zip(analysis.graph.inputs, inputs)
    }
    return session.run(list(analysis.graph.outputs), feeds)


def _inferred_shapes(model: onnx.ModelProto) -> dict[str, list]:
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    values = list(inferred.graph.value_info) + list(inferred.graph.output)
    return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}


def check_against_torch(analysis: Analysis, tmp_path: Path) -> None:
    """The acceptance: a valid model, cnnc's shapes, and PyTorch's outputs on PyTorch's weights."""
    reference = torch_model(analysis)
    weights = tmp_path / "weights.pt"
    torch.save(reference.state_dict(), weights)
    blob = build.generate(analysis, build.CompileOptions("onnx", weights=weights))["model.onnx"]
    model = onnx.load_from_string(blob)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == OPSET
    shapes, names = _inferred_shapes(model), value_names(analysis.graph)
    for node in analysis.graph.topological():
        dims = shapes[names[node.id]] if node.op.name != "input" else None
        if dims is not None:
            # The batch stays symbolic (Resize's inference renames it); the rest is cnnc's shape, NCHW.
            assert isinstance(dims[0], str) and dims[1:] == list(channels_first(node.shape)), (node.id, dims)
    inputs = random_inputs(analysis)
    for name, got, want in zip(
        analysis.graph.outputs, _run_onnx(model, analysis, inputs), run_torch(reference, inputs)
    ):
        assert got.shape == want.shape, name
        assert float(np.abs(got - want).max()) < TOLERANCE, name


@pytest.mark.parametrize("path", LIBRARY)
def test_library_spec(path, tmp_path):
    check_against_torch(reduced(path), tmp_path)


@pytest.mark.parametrize("path", OWN, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_own_op_spec(path, tmp_path):
    check_against_torch(analyze(path), tmp_path)


def test_corners(spec_file, tmp_path):
    analysis = analyze(spec_file(CORNERS))
    assert analysis.ok, analysis.diagnostics
    check_against_torch(analysis, tmp_path)


def test_every_op_has_an_emitter_or_says_why_not():
    assert [
        name for name, op in ops.OPS.items() if name != "input" and name not in EMITTERS and not op.not_in_onnx
    ] == []
    assert [name for name, op in ops.OPS.items() if op.not_in_onnx] == []


def test_an_op_onnx_cannot_express_stops_compile_at_its_line(spec_file, tmp_path, monkeypatch, capsys):
    refused = dataclasses.replace(ops.OPS["maxout"], not_in_onnx="say why here")
    monkeypatch.setitem(ops.OPS, "maxout", refused)
    path = spec_file("network N() {\n  input x: 8x8x4\n  x -> relu\n    -> maxout(2) -> output y\n}\n")
    assert main(["compile", str(path), "--target", "onnx", "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "error[E0801]: `maxout` cannot be exported to ONNX" in err
    assert f"--> {path}:4:8" in err and "= note: say why here" in err
    assert not (tmp_path / "out").exists()


# --- the command line, weights and the batch ----------------------------------------------------

LENET = ROOT / "specs" / "lenet5.cnn"


def test_compile_writes_model_onnx_with_the_specs_names(tmp_path, capsys):
    assert main(["compile", str(LENET), "--target", "onnx", "-o", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'model.onnx'}\n"
    model = onnx.load(tmp_path / "model.onnx")
    graph = model.graph
    assert [i.name for i in graph.input] == ["x"] and [o.name for o in graph.output] == ["y"]
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == [BATCH, 1, 32, 32]
    assert sorted(i.name for i in graph.initializer) == [
        "conv1.bias", "conv1.weight", "conv2.bias", "conv2.weight", "dense1.bias", "dense1.weight",
        "dense2.bias", "dense2.weight", "dense3.bias", "dense3.weight",
    ]  # fmt: skip
    assert sum(int(np.prod(i.dims)) for i in graph.initializer) == 61_706


def test_default_weights_are_pytorchs_scheme_and_the_same_every_time(tmp_path):
    analysis = analyze(LENET)
    first, second = build_model(analysis.graph), build_model(analysis.graph)
    assert first.SerializeToString() == second.SerializeToString()
    tensors = {i.name: onnx.numpy_helper.to_array(i) for i in first.graph.initializer}
    bound = 1 / np.sqrt(6 * 5 * 5)  # conv2: fan_in = 6 channels x 5 x 5
    assert tensors["conv2.weight"].shape == (16, 6, 5, 5)
    assert np.abs(tensors["conv2.weight"]).max() <= bound
    assert np.abs(tensors["conv2.weight"]).max() > 0.95 * bound


def test_any_batch_size(tmp_path):
    analysis = analyze(LENET)
    model = build_model(analysis.graph)
    for batch in (1, 5):
        x = np.random.default_rng(0).standard_normal((batch, 32, 32, 1)).astype(np.float32)
        assert _run_onnx(model, analysis, [x])[0].shape == (batch, 10)


@pytest.mark.parametrize("form", ["checkpoint.pt", "state.npz", "keras_harness.npz"])
def test_weights_files(form, tmp_path):
    """A harness checkpoint (.pt with the state under "model"), a state dict in .npz, and the Keras
    harness' .npz (variable paths and arrays in get_weights() order) all give the PyTorch model's outputs."""
    analysis = reduced(ROOT / "specs" / "siamese.cnn")
    reference = torch_model(analysis)
    state = {k: v.numpy() for k, v in reference.state_dict().items()}
    path = tmp_path / form
    if form == "checkpoint.pt":
        torch.save({"model": reference.state_dict(), "optimizer": {}, "state": {"epoch": 3}}, path)
    elif form == "state.npz":
        np.savez(path, **state)
    else:
        _save_as_keras_harness(analysis, state, path)
    blob = build.generate(analysis, build.CompileOptions("onnx", weights=path))["model.onnx"]
    inputs = random_inputs(analysis)
    for got, want in zip(_run_onnx(onnx.load_from_string(blob), analysis, inputs), run_torch(reference, inputs)):
        assert float(np.abs(got - want).max()) < TOLERANCE


def _save_as_keras_harness(analysis: Analysis, state: dict, path: Path) -> None:
    names, arrays = [], {}
    for layer, weights in keras_weights_from_torch(analysis.graph, state).items():
        for i, array in enumerate(weights):
            arrays[f"model/{len(names)}"] = array
            names.append(f"{layer}/variable_{i}")
    arrays[f"model/{len(names)}"] = np.zeros(2, np.uint32)
    names.append("dropout/seed_generator_state")  # not a weight: skipped
    np.savez(path, names=np.array(json.dumps(names)), **arrays)


def test_bad_weights_are_a_usage_error(tmp_path, capsys):
    np.savez(tmp_path / "w.npz", **{"conv1.weight": np.zeros((6, 1, 5, 5), np.float32)})
    out = str(tmp_path / "out")
    assert main(["compile", str(LENET), "--target", "onnx", "--weights", str(tmp_path / "w.npz"), "-o", out]) == 2
    assert "the weights have no tensor 'conv1.bias' (line 8: conv)" in capsys.readouterr().err
    np.savez(tmp_path / "w.npz", **{"conv1.weight": np.zeros((6, 1, 3, 3), np.float32)})
    assert main(["compile", str(LENET), "--target", "onnx", "--weights", str(tmp_path / "w.npz"), "-o", out]) == 2
    assert "'conv1.weight' is (6, 1, 3, 3); the layer at line 8 needs (6, 1, 5, 5)" in capsys.readouterr().err
    assert main(["compile", str(LENET), "--target", "torch", "--weights", str(tmp_path / "w.npz"), "-o", out]) == 2
    assert capsys.readouterr().err == (
        "cnnc: error: --weights is a task option: it needs --task, whose train.py takes it as its default; "
        "--weights without --task is for --target onnx\n"
    )


def test_without_the_onnx_package_the_target_says_what_to_install(tmp_path, monkeypatch, capsys):
    real = build.importlib.import_module

    def import_module(name):
        if name == build.TARGETS["onnx"]:  # what importing the backend meets without the package
            raise ModuleNotFoundError("No module named 'onnx'", name="onnx")
        return real(name)

    monkeypatch.setattr(build.importlib, "import_module", import_module)
    assert main(["compile", str(LENET), "--target", "onnx", "-o", str(tmp_path)]) == 2
    assert "--target onnx needs onnx: pip install 'cnnc[onnx]'" in capsys.readouterr().err
