"""The PyTorch backend: every spec builds a model with the IR's parameter counts and output shapes."""

from __future__ import annotations

import ast
import difflib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch_helpers import OWN_SPECS, ROOT, as_tuple, build, compile_spec, example_inputs, load, param_counts

from cnnc.backends.torch.emitters import check_coverage
from cnnc.ir.names import MODULE_ATTRIBUTES
from cnnc.ir.ops import OPS

LIBRARY = sorted((ROOT / "specs").glob("*.cnn"))
OWN = sorted(OWN_SPECS.glob("*.cnn"))
SNAPSHOTS = ROOT / "tests" / "snapshots" / "torch"
# Bigger than this, a model is built and run on the meta device: shapes and counts without the arithmetic.
REAL_LIMIT = 2_000_000


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_every_op_has_an_emitter():
    assert check_coverage(OPS) == []


def test_module_attribute_list_covers_this_torch():
    public = {name for name in dir(torch.nn.Module()) if not name.startswith("_")}
    assert public <= MODULE_ATTRIBUTES


@pytest.mark.parametrize("path", LIBRARY + OWN, ids=_id)
def test_model_matches_the_ir(path):
    """Trainable and non-trainable counts and every output shape (NCHW) are exactly the IR's."""
    analysis, source = compile_spec(path)
    module = load(source)
    big = analysis.cost.params.total > REAL_LIMIT or analysis.cost.macs > 300_000_000
    with torch.device("meta" if big else "cpu"):
        model = module.build_model().eval()
        inputs = example_inputs(module)
    assert param_counts(model) == (analysis.cost.params.trainable, analysis.cost.params.non_trainable)
    graph = analysis.graph
    assert list(module.INPUTS) == list(graph.inputs) and list(module.OUTPUTS) == list(graph.outputs)
    with torch.no_grad():
        outputs = as_tuple(model(*inputs))
    expected = [_nchw(graph.node(i).shape) for i in graph.outputs.values()]
    assert [tuple(o.shape) for o in outputs] == [(2, *s) for s in expected]
    assert list(module.OUTPUTS.values()) == expected


def _nchw(shape: tuple) -> tuple:
    return shape if len(shape) < 2 else (shape[-1], *shape[:-1])


@pytest.mark.parametrize("path", OWN, ids=_id)
def test_training_step_runs_and_leaves_inputs_alone(path):
    """In-place ops are only used where autograd allows them, and never on the caller's tensors."""
    _, module, model = build(path)
    model.train()
    inputs = example_inputs(module)
    kept = [x.clone() for x in inputs]
    loss = sum(o.float().square().mean() for o in as_tuple(model(*inputs)))
    loss.backward()
    assert all(torch.equal(a, b) for a, b in zip(inputs, kept))
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None for p in trainable)


def test_output_is_byte_identical_across_runs():
    code = ("import sys; from cnnc.compiler import analyze; from cnnc.backends.torch import generate; "
            "sys.stdout.write(generate(analyze(sys.argv[1]), None)['model.py'])")
    spec = str(OWN_SPECS / "ops_2d.cnn")
    runs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        runs.append(subprocess.run([sys.executable, "-c", code, spec], capture_output=True, text=True, env=env,
                                   check=True).stdout)
    assert runs[0] == runs[1] == compile_spec(spec)[1]


# --- the edge-detection example of the material -------------------------------------------

EDGES = """network VerticalEdges() {
  input image: 6x6x1
  image -> conv(1, 3, weights=vertical, bias=false) -> output edges
}
"""


def test_vertical_edge_detector_computes_the_course_numbers(tmp_path):
    _, module, model = build(tmp_path / "edges.cnn", EDGES)
    image = torch.zeros(1, 1, 6, 6)
    image[..., :3] = 10.0
    with torch.no_grad():
        edges = model(image)
    assert edges.shape == (1, 1, 4, 4)
    assert edges[0, 0].tolist() == [[0.0, 30.0, 30.0, 0.0]] * 4
    assert param_counts(model) == (0, 9)


# --- snapshots of generated source ------------------------------------------------------------


SNAPSHOT_SPECS = {
    "lenet5": OWN_SPECS / "lenet5.cnn",
    "residual": OWN_SPECS / "residual.cnn",
    "inception": OWN_SPECS / "inception.cnn",
    "resnet50": ROOT / "specs" / "resnet50.cnn",
    "unet": ROOT / "specs" / "unet.cnn",
    "inception_v3": ROOT / "specs" / "inception_v3.cnn",
    # torchvision's Inception v3: one class per inception module (the Keras-named spec above is flat, as
    # keras.applications writes it: its layers carry Keras' automatic names).
    "torchvision_inception_v3": ROOT / "specs" / "torchvision_inception_v3.cnn",
}


@pytest.mark.parametrize("name", list(SNAPSHOT_SPECS))
def test_generated_source_snapshot(name):
    """Golden files; refresh with CNNC_UPDATE_SNAPSHOTS=1 after an intended change, and review the diff."""
    source = compile_spec(SNAPSHOT_SPECS[name])[1]
    golden = SNAPSHOTS / f"{name}.py"
    if os.environ.get("CNNC_UPDATE_SNAPSHOTS") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(source)
    assert golden.exists(), f"no snapshot {golden}: run with CNNC_UPDATE_SNAPSHOTS=1"
    expected = golden.read_text()
    diff = "".join(difflib.unified_diff(expected.splitlines(True), source.splitlines(True),
                                        f"{golden.name} (snapshot)", f"{golden.name} (generated)"))
    assert source == expected, "generated source drifted from the snapshot:\n" + diff


# --- constructor arguments ------------------------------------------------------------------


def test_non_structural_params_are_constructor_arguments():
    _, module, model = build(OWN_SPECS / "residual.cnn")
    signature = inspect.signature(module.TinyResNet)
    assert {n: p.default for n, p in signature.parameters.items()} == {"num_classes": 10, "drop": 0.1}
    model = module.build_model(num_classes=3, drop=0.5)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert [m.p for m in dropouts] == [0.5]


def test_compile_time_override_becomes_the_default():
    _, module, model = build(OWN_SPECS / "residual.cnn", num_classes=4)
    assert inspect.signature(module.TinyResNet).parameters["num_classes"].default == 4
    assert module.OUTPUTS == {"logits": (4,)}


KNOBS = """network Knobs(use_bias: bool = false, eps: float = 0.001, slope: float = 0.1, rate: float = 0.3) {
  input x: 6x6x2
  x -> conv(4, 3, bias=use_bias) -> batchnorm(epsilon=eps) -> leaky_relu(slope) -> dropout(rate) -> output y
}
"""


def test_shape_free_settings_become_constructor_arguments(tmp_path):
    analysis, source = compile_spec(tmp_path / "k.cnn", KNOBS)
    module = load(source)
    params = inspect.signature(module.Knobs).parameters
    assert {n: (p.default, p.annotation) for n, p in params.items()} == {
        "use_bias": (False, bool), "eps": (0.001, float), "slope": (0.1, float), "rate": (0.3, float)}
    assert param_counts(module.build_model()) == (analysis.cost.params.trainable, analysis.cost.params.non_trainable)
    conv, bn, leaky, dropout = module.build_model(use_bias=True, eps=0.01, slope=0.5, rate=0.7).children()
    assert conv.bias is not None and bn.eps == 0.01 and leaky.negative_slope == 0.5 and dropout.p == 0.7


WIDTH = """network Widths(width: int = 16, classes: int = 5) {
  input x: 8x8x3
  x -> conv(width, 3) -> conv(8, 3) -> global_avgpool -> dense(classes) -> relu -> output y
}
"""


def test_a_param_that_sets_a_later_layers_input_is_resolved_at_compile_time(tmp_path):
    """`width` feeds conv1 only, but conv2's input channels follow it: not a safe constructor argument."""
    _, source = compile_spec(tmp_path / "w.cnn", WIDTH)
    module = load(source)
    assert list(inspect.signature(module.Widths).parameters) == ["classes"]
    assert "nn.Conv2d(3, 16, 3)" in source and "#   width = 16" in source
    assert module.build_model(classes=2)(torch.randn(1, 3, 8, 8)).shape == (1, 2)


# --- exact semantics of the ops that differ between frameworks ----------------------------------


def _set_ones(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.fill_(1.0 if name.endswith("weight") else 0.0)


def _run(tmp_path, body: str, shape: str, x: torch.Tensor, ones: bool = True) -> torch.Tensor:
    text = f"network T() {{\n  input x: {shape}\n  x -> {body} -> output y\n}}\n"
    _, _, model = build(tmp_path / "t.cnn", text)
    if ones:
        _set_ones(model)
    with torch.no_grad():
        return model.eval()(x)


def test_same_padding_with_stride_puts_the_extra_pixel_at_the_end(tmp_path):
    # 4x4 of ones, 3x3 kernel of ones, stride 2: TensorFlow pads (0, 1), so the first window is all inside.
    y = _run(tmp_path, "conv(1, 3, stride=2, padding=same)", "4x4x1", torch.ones(1, 1, 4, 4))
    assert y[0, 0].tolist() == [[9.0, 6.0], [6.0, 4.0]]


def test_explicit_asymmetric_padding(tmp_path):
    y = _run(tmp_path, "conv(1, 2, padding=((1, 0), (0, 2)))", "3x3x1", torch.ones(1, 1, 3, 3))
    assert y[0, 0].tolist() == [[2.0, 2.0, 1.0, 0.0], [4.0, 4.0, 2.0, 0.0], [4.0, 4.0, 2.0, 0.0]]


def test_maxpool_pads_with_minus_infinity(tmp_path):
    x = -torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    same = _run(tmp_path, "maxpool(2, stride=2, padding=same)", "3x3x1", x)
    assert same[0, 0].tolist() == [[-1.0, -3.0], [-7.0, -9.0]]
    symmetric = _run(tmp_path, "maxpool(3, stride=2, padding=1)", "3x3x1", x)
    assert symmetric[0, 0].tolist() == [[-1.0, -2.0], [-4.0, -5.0]]


def test_avgpool_never_counts_padding(tmp_path):
    x = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    same = _run(tmp_path, "avgpool(2, stride=2, padding=same)", "3x3x1", x)  # pads (0, 1): last windows smaller
    assert same[0, 0].tolist() == [[3.0, 4.5], [7.5, 9.0]]
    padded = _run(tmp_path, "avgpool(3, stride=1, padding=1)", "3x3x1", x)
    assert padded[0, 0, 0].tolist() == [3.0, 3.5, 4.0]
    asymmetric = _run(tmp_path, "avgpool(2, stride=1, padding=((1, 0), (0, 0)))", "3x3x1", x)
    assert asymmetric[0, 0, :, 0].tolist() == [1.5, 3.0, 6.0]


def test_avgpool_counts_padding_when_asked(tmp_path):
    # PyTorch's default (torchvision's InceptionV3): padded cells are zeros in the average.
    x = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    padded = _run(tmp_path, "avgpool(3, stride=1, padding=1, count_include_pad=true)", "3x3x1", x)
    assert padded[0, 0, 0].tolist() == pytest.approx([12 / 9, 21 / 9, 16 / 9])
    assert torch.allclose(padded, torch.nn.AvgPool2d(3, stride=1, padding=1)(x))
    same = _run(tmp_path, "avgpool(2, stride=2, padding=same, count_include_pad=true)", "3x3x1", x)  # pads (0, 1)
    assert same[0, 0].tolist() == [[3.0, 2.25], [3.75, 2.25]]
    # Ceil mode's window past the padding averages only what it covers, as in PyTorch.
    line = torch.arange(1.0, 7.0).reshape(1, 1, 6)  # padded 0 1 2 3 4 5 6 0: the last window is (6 + 0) / 2
    ceil = _run(tmp_path, "avgpool(3, stride=2, padding=1, ceil=true, count_include_pad=true)", "6x1", line)
    assert ceil[0, 0].tolist() == pytest.approx([1.0, 3.0, 5.0, 3.0])
    assert torch.allclose(ceil, torch.nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True)(line))


def test_ceil_mode_keeps_the_partial_window(tmp_path):
    x = torch.arange(1.0, 6.0).reshape(1, 1, 5)
    y = _run(tmp_path, "maxpool(2, ceil=true)", "5x1", x)
    assert y[0, 0].tolist() == [2.0, 4.0, 5.0]
    y = _run(tmp_path, "avgpool(2, ceil=true)", "5x1", x)
    assert y[0, 0].tolist() == [1.5, 3.5, 5.0]


def test_transposed_conv_same_gives_n_times_stride(tmp_path):
    for kernel, expect in ((3, [1.0, 1.0, 2.0, 1.0, 2.0, 1.0]), (4, [1.0, 2.0, 2.0, 2.0, 2.0, 1.0]),
                           (1, [1.0, 0.0, 1.0, 0.0, 1.0, 0.0])):
        y = _run(tmp_path, f"conv_transpose(1, {kernel}, stride=2, padding=same)", "3x1", torch.ones(1, 1, 3))
        assert y[0, 0].tolist() == expect, kernel


def test_separable_is_depthwise_without_bias_then_pointwise(tmp_path):
    text = "network T() {\n  input x: 5x5x4\n  x -> separable(6, 3, multiplier=2) -> output y\n}\n"
    _, _, model = build(tmp_path / "t.cnn", text)
    (layer,) = [m for m in model.children()]
    assert layer.depthwise.bias is None and layer.depthwise.groups == 4 and layer.depthwise.out_channels == 8
    assert layer.pointwise.bias.shape == (6,) and layer.pointwise.kernel_size == (1, 1)


SCALED = """network Scaled(factor: float = 0.17) {
  input x: 2x2x3
  x -> conv(3, 1) -> scale(-0.5) -> scale(factor) -> relu -> output y
}
"""


def test_scale_multiplies_by_its_factor_literal_or_constructor_argument(tmp_path):
    _, source = compile_spec(tmp_path / "s.cnn", SCALED)
    module = load(source)
    assert list(inspect.signature(module.Scaled).parameters) == ["factor"]
    assert "*= -0.5" in source and "inplace=True" in source  # fresh tensors are scaled and rectified in place
    x = torch.randn(2, 3, 2, 2)
    for kwargs, factor in (({}, 0.17), ({"factor": 2.0}, 2.0)):
        model = module.build_model(**kwargs).eval()
        y = model(x)
        expected = torch.relu(model.conv1(x) * -0.5 * factor)
        assert torch.allclose(y, expected, rtol=0, atol=1e-6)
        (grad,) = torch.autograd.grad(y.sum(), model.conv1.weight)  # in-place work leaves autograd right
        assert torch.allclose(grad, torch.autograd.grad(expected.sum(), model.conv1.weight)[0], atol=1e-6)
    assert _run(tmp_path, "scale(3)", "4", torch.tensor([[1.0, -2.0, 0.5, 0.0]])).tolist() == [[3.0, -6.0, 1.5, 0.0]]


ACTIVATED = """network Activated() {
  input x: 6x6x3
  x -> conv(4, 3, padding=1) -> batchnorm -> swish -> conv(4, 1) -> hard_swish -> conv(4, 1) -> leaky_relu(0.1)
    -> conv(4, 1) -> elu -> conv(4, 1) -> sigmoid -> conv(4, 1) -> tanh -> conv(4, 1) -> hard_sigmoid
    -> conv(4, 1) -> relu6 -> conv(4, 1) -> leaky_relu(0.0) -> output y
}
"""
OUT_OF_PLACE = {", inplace=True": "", "torch.sigmoid_(": "torch.sigmoid(", "torch.tanh_(": "torch.tanh("}


def test_every_activation_with_an_in_place_form_uses_it_and_autograd_agrees(tmp_path):
    _, source = compile_spec(tmp_path / "a.cnn", ACTIVATED)
    for form in ("F.silu(x, inplace=True)", "F.hardswish(x, inplace=True)", "F.leaky_relu(x, 0.1, inplace=True)",
                 "F.elu(x, 1.0, inplace=True)", "torch.sigmoid_(x)", "torch.tanh_(x)",
                 "F.hardsigmoid(x, inplace=True)", "F.relu6(x, inplace=True)", "F.leaky_relu(x, 0.0)"):
        assert form in source, form
    assert "F.leaky_relu(x, 0.0, inplace" not in source  # a zero slope has no in-place backward
    plain = source
    for inplace, copy in OUT_OF_PLACE.items():
        plain = plain.replace(inplace, copy)
    assert "inplace" not in plain and "sigmoid_" not in plain and "tanh_" not in plain
    models = [load(text, f"activated_{i}").build_model() for i, text in enumerate((source, plain))]
    models[1].load_state_dict(models[0].state_dict())
    x = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    outputs, grads = [], []
    for model in models:
        model.train()
        y = model(x)
        outputs.append(y)
        grads.append(torch.autograd.grad(y.square().sum(), list(model.parameters())))
    assert torch.allclose(outputs[0], outputs[1], rtol=0, atol=1e-6)
    assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(*grads, strict=True))


SEQUENTIAL_SILU = """sequential block stem(width: int) {
  return in -> conv(width, 3, padding=1, bias=false) -> batchnorm -> swish
}

network Stems() {
  input x: 6x6x3
  x -> stem(4) -> swish -> output y
}
"""


def test_sequential_bodies_hold_in_place_modules(tmp_path):
    _, source = compile_spec(tmp_path / "s.cnn", SEQUENTIAL_SILU)
    assert "nn.SiLU(inplace=True)" in source


TWINS = """block twin() {
  return in -> relu -> conv(2, 1)
}

network Twins() {
  input x: 4x4x2
  shared t = twin()
  a = x -> conv(2, 1)
  b = x -> conv(2, 1)
  ta = a -> t
  tb = b -> t
  add(ta, tb, b) -> output y
}
"""


def test_a_shared_block_works_in_place_only_where_every_use_may(tmp_path):
    # `a` dies in its use of the twin, `b` is read again: one code serves both, so neither is overwritten.
    _, source = compile_spec(tmp_path / "t.cnn", TWINS)
    assert "F.relu(x)  #" in source and "inplace" not in source
    model = load(source, "twins").build_model().eval()
    x = torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        a, b = model.conv1(x), model.conv2(x)
        expected = model.t.conv1(a.relu()) + model.t.conv1(b.relu()) + b
        assert torch.allclose(model(x), expected, atol=1e-6)


def test_same_pooling_with_stride_2_is_native_ceil_mode(tmp_path):
    x = torch.randn(1, 2, 8, 8, generator=torch.Generator().manual_seed(1))
    F = torch.nn.functional
    for pool, fn in (("maxpool", F.max_pool2d), ("avgpool", None)):
        text = f"network P() {{\n  input x: 8x8x2\n  x -> {pool}(3, stride=2, padding=same) -> output y\n}}\n"
        _, source = compile_spec(tmp_path / f"{pool}.cnn", text)
        assert "ceil_mode=True" in source and "F.pad" not in source and "avg_pool_uncounted" not in source
        y = _run(tmp_path, f"{pool}(3, stride=2, padding=same)", "8x8x2", x)
        if fn is not None:  # TensorFlow's same: one row and column of -inf at the end
            expected = fn(F.pad(x, (0, 1, 0, 1), value=float("-inf")), 3, stride=2)
        else:  # the average of the cells inside
            total = F.avg_pool2d(F.pad(x, (0, 1, 0, 1)), 3, stride=2, divisor_override=1)
            count = F.avg_pool2d(F.pad(torch.ones_like(x), (0, 1, 0, 1)), 3, stride=2, divisor_override=1)
            expected = total / count
        assert torch.allclose(y, expected, atol=1e-6)


def test_maxout_takes_the_max_of_consecutive_channels(tmp_path):
    x = torch.tensor([1.0, 5.0, 2.0, 3.0, -1.0, -2.0]).reshape(1, 6)
    y = _run(tmp_path, "maxout(3)", "6", x)
    assert y.tolist() == [[5.0, 3.0]]


def test_lrn_normalises_across_channels_of_maps_and_vectors(tmp_path):
    x = torch.rand(2, 6, 3, 3) + 0.5
    expected = torch.nn.functional.local_response_norm(x, 3, alpha=0.5, beta=0.75, k=2.0)
    assert torch.allclose(_run(tmp_path, "lrn(3, alpha=0.5)", "3x3x6", x), expected)
    flat = x[:, :, 0, 0]
    assert torch.allclose(_run(tmp_path, "lrn(3, alpha=0.5)", "6", flat), expected[:, :, 0, 0])


def test_multiply_broadcasts_a_vector_over_the_channels(tmp_path):
    text = """network T() {
  input x: 2x2x3
  input s: 3
  multiply(x, s) -> output y
}
"""
    _, _, model = build(tmp_path / "t.cnn", text)
    x, s = torch.randn(2, 3, 2, 2), torch.randn(2, 3)
    assert torch.equal(model(x, s), x * s[:, :, None, None])


def test_flatten_and_reshape_use_channels_first_order(tmp_path):
    x = torch.arange(12.0).reshape(1, 3, 2, 2)
    assert torch.equal(_run(tmp_path, "flatten", "2x2x3", x), x.flatten(1))
    y = _run(tmp_path, "flatten -> reshape((2, 2, 3)) -> flatten -> reshape((2, 2, 3))", "2x2x3", x)
    assert torch.equal(y, x)


def test_softmax_axis_maps_to_channels_first(tmp_path):
    x = torch.randn(1, 3, 2, 4)
    assert torch.allclose(_run(tmp_path, "softmax", "2x4x3", x), x.softmax(1))
    assert torch.allclose(_run(tmp_path, "softmax(axis=1)", "2x4x3", x), x.softmax(3))


def test_concat_along_a_spatial_axis(tmp_path):
    text = "network T() {\n  input a: 2x4x3\n  input b: 5x4x3\n  concat(a, b, axis=0) -> output y\n}\n"
    _, _, model = build(tmp_path / "t.cnn", text)
    a, b = torch.randn(1, 3, 2, 4), torch.randn(1, 3, 5, 4)
    assert torch.equal(model(a, b), torch.cat((a, b), 2))


def test_batchnorm_settings_and_lone_scale_or_shift(tmp_path):
    text = """network T() {
  input x: 4x4x3
  a = x -> batchnorm(momentum=0.01, epsilon=0.001) -> batchnorm(scale=false) -> batchnorm(center=false)
  a -> batchnorm(scale=false, center=false) -> output y
}
"""
    analysis, _, model = build(tmp_path / "t.cnn", text)
    bns = list(model.children())
    assert (bns[0].momentum, bns[0].eps) == (0.01, 0.001)
    assert [(bn.weight is not None, bn.bias is not None) for bn in bns] == [(True, True), (False, True),
                                                                            (True, False), (False, False)]
    assert param_counts(model) == (analysis.cost.params.trainable, analysis.cost.params.non_trainable) == (12, 24)
    x = torch.randn(2, 3, 4, 4)
    with torch.no_grad():
        bns[2].weight.fill_(2.0)
        assert torch.allclose(bns[2].eval()(x), 2 * bns[3].eval()(x))


def test_frozen_layers_and_constant_kernels(tmp_path):
    text = """network T() {
  input x: 8x8x2
  x -> conv(3, 3, weights=sobel_x) -> conv(4, 3, frozen=true) -> batchnorm(frozen=true) -> dense_free -> output y
}
block dense_free() { return in -> conv(2, 1) }
"""
    analysis, _, model = build(tmp_path / "t.cnn", text)
    sobel, frozen, bn, free = model.children()
    assert torch.equal(sobel.weight, torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]]).expand(3, 2, 3, 3))
    assert torch.equal(sobel.bias, torch.zeros(3))
    assert not any(p.requires_grad for m in (sobel, frozen, bn) for p in m.parameters())
    assert all(p.requires_grad for p in free.parameters())
    assert param_counts(model) == (analysis.cost.params.trainable, analysis.cost.params.non_trainable)
    # a frozen batch norm keeps its statistics in training mode too (Keras' trainable=False rule)
    bn.running_mean.fill_(0.5)
    model.train()
    model(torch.randn(4, 2, 8, 8) * 3 + 2)
    assert torch.equal(bn.running_mean, torch.full((4,), 0.5))


def test_shared_weights_are_one_submodule_used_twice():
    analysis, module, model = build(OWN_SPECS / "siamese.cnn")
    source = compile_spec(OWN_SPECS / "siamese.cnn")[1]
    assert source.count("self.enc = Encoder()") == 1 and source.count("self.enc(") == 2
    assert "enc_2" not in source  # the second use is the same submodule, not a copy
    a = torch.randn(2, 1, 12, 12)
    model.eval()
    with torch.no_grad():
        distance, _ = model(a, a)
        enc = model.enc
        encoded = enc.dense1(enc.conv2(torch.nn.functional.max_pool2d(
            torch.relu(enc.batchnorm1(enc.conv1(a))), 2)).mean((2, 3)))
    assert torch.allclose(distance, model.dense1(encoded + encoded * encoded), atol=1e-6)


def test_layers_no_output_needs_are_built_but_not_run(tmp_path):
    text = "network T() {\n  input x: 4x4x2\n  x -> conv(3, 1) -> output y\n  x -> conv(5, 1)\n}\n"
    analysis, source = compile_spec(tmp_path / "t.cnn", text)
    assert "self.conv2 = nn.Conv2d(2, 5, 1)" in source and "self.conv2(" not in source
    assert param_counts(load(source).build_model()) == (analysis.cost.params.trainable, 0)


# --- safety ----------------------------------------------------------------------------------

HOSTILE = """
block class(def: int = 4) {
  return in -> conv(def, 3, padding=1) as lambda -> relu as __init__
}

network none(self: int = 3, forward: float = 0.5, super: int = 10, nn: float = 0.1,
             note: str = "\\"\\"\\" import os; os.system('x') \\n\\u2028") {
  input F: 8x8x3
  input torch: 8x8x3
  a = F -> class(8) as training -> conv(4, 3, padding=1) as forward -> relu as __dict__
  b = torch -> conv(4, 3, padding=1) as LONG
  c = (a, b) -> add as nn -> leaky_relu(nn) as F -> global_avgpool as build_model -> dropout(forward) as INPUTS
  c -> dense(super) as self -> output lambda
  c -> dense(self) as super -> output __class__
  c -> identity as h -> output None
}
""".replace("LONG", "a" * 300)


def test_hostile_names_give_safe_valid_python(tmp_path):
    path = tmp_path / 'evil"""\\name.cnn'
    analysis, source = compile_spec(path, HOSTILE)
    tree = ast.parse(source)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [ast.unparse(n) for n in imports] == ["import torch", "import torch.nn.functional as F",
                                                 "from torch import nn"]
    assert {type(n).__name__ for n in tree.body} == {"Expr", "Import", "ImportFrom", "Assign", "ClassDef",
                                                     "FunctionDef"}
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert all("os.system" not in s and "evil" not in s for s in strings)
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") in
                ("eval", "exec", "__import__", "open", "getattr", "setattr")]
    module = load(source)
    assert list(module.INPUTS) == ["F", "torch"] and list(module.OUTPUTS) == ["lambda", "__class__", "None"]
    model = module.build_model()
    assert isinstance(model.forward.__func__, type(test_hostile_names_give_safe_valid_python))
    assert model.training is True and isinstance(model.training_.lambda_, torch.nn.Conv2d)
    assert param_counts(model) == (analysis.cost.params.trainable, analysis.cost.params.non_trainable)
    outputs = model.eval()(torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8))
    assert [tuple(o.shape) for o in outputs] == [(2, 10), (2, 3), (2, 4)]
    assert module.build_model(super_=7).eval()(*example_inputs(module))[0].shape == (2, 7)
