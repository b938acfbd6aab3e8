"""Per-op shape inference and costs with explicit expected numbers."""

from __future__ import annotations

import math

import pytest

from cnnc.compiler import analyze
from cnnc.ir.ops import OPS

# Values for the attributes that have no default, so a record's shape rule can be asked directly.
_REQUIRED = {"crop": {"cropping": 1}, "adaptive_avgpool": {"size": 2}, "scale": {"factor": 2.0}}


def layer(spec_file, shape: str, step: str):
    """The node that `step` makes on an input of `shape`: (shape, trainable, non-trainable, MACs)."""
    text = f"network T() {{\n  input x: {shape}\n  x -> {step} as probe -> output y\n}}\n"
    analysis = analyze(spec_file(text))
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    node = analysis.graph.node("probe")
    return node.shape, node.params.trainable, node.params.non_trainable, node.macs


@pytest.mark.parametrize("name", [name for name, op in OPS.items() if op.passes_width])
def test_ops_that_pass_the_width_take_any_channel_count(name):
    op = OPS[name]
    attrs = op.attrs(**_REQUIRED.get(name, {}))
    assert not op.has_weights and op.max_inputs == 1
    narrow, wide = (math.prod(op.shape(attrs, [(8, 8, c)])) for c in (4, 6))
    assert wide * 4 == narrow * 6  # the output grows with the width and nothing else changes


@pytest.mark.parametrize("name", [name for name, op in OPS.items() if op.layout_free])
def test_layout_free_ops_keep_their_input_shape(name):
    op = OPS[name]
    ins = [(8, 8, 4)] * op.min_inputs
    assert op.shape(op.attrs(**_REQUIRED.get(name, {})), ins) == (8, 8, 4)


@pytest.mark.parametrize(
    "shape, step, expected",
    [
        # conv: k*k*cin*cout + cout; MACs k*k*cin*cout*positions
        ("39x39x3", "conv(10, 3)", ((37, 37, 10), 280, 0, 3 * 3 * 3 * 10 * 37 * 37)),
        ("37x37x10", "conv(20, 5, stride=2)", ((17, 17, 20), 5020, 0, 5 * 5 * 10 * 20 * 17 * 17)),
        ("17x17x20", "conv(40, 5, stride=2)", ((7, 7, 40), 20040, 0, 5 * 5 * 20 * 40 * 7 * 7)),
        ("224x224x3", "conv(64, 7, stride=2, padding=3, bias=false)", ((112, 112, 64), 9408, 0, 118013952)),
        ("32x32x3", "conv(8, 3, padding=same)", ((32, 32, 8), 224, 0, 27 * 8 * 1024)),
        ("33x33x3", "conv(8, 3, stride=2, padding=same)", ((17, 17, 8), 224, 0, 27 * 8 * 289)),
        ("32x32x3", "conv(8, 3, dilation=2)", ((28, 28, 8), 224, 0, 27 * 8 * 784)),
        ("32x32x3", "conv(8, (1, 3), padding=(0, 1))", ((32, 32, 8), 80, 0, 9 * 8 * 1024)),
        ("32x32x3", "conv(8, 3, padding=((0, 1), (0, 1)), stride=2)", ((16, 16, 8), 224, 0, 27 * 8 * 256)),
        ("8x8x32", "conv(64, 3, groups=4, padding=1)", ((8, 8, 64), 9 * 8 * 64 + 64, 0, 9 * 8 * 64 * 64)),
        ("140x1", "conv(16, 7)", ((134, 16), 7 * 16 + 16, 0, 7 * 16 * 134)),
        ("14x14x14x1", "conv(8, 3)", ((12, 12, 12, 8), 27 * 8 + 8, 0, 27 * 8 * 1728)),
        # depthwise / separable / pointwise
        ("112x112x32", "depthwise(3, padding=same, bias=false)", ((112, 112, 32), 288, 0, 288 * 112 * 112)),
        ("16x16x8", "depthwise(3, multiplier=2)", ((14, 14, 16), 9 * 16 + 16, 0, 9 * 16 * 196)),
        ("16x16x8", "separable(32, 3, padding=same)", ((16, 16, 32), 72 + 256 + 32, 0, (72 + 256) * 256)),
        ("16x16x8", "pointwise(4)", ((16, 16, 4), 36, 0, 32 * 256)),
        # transposed conv: (n-1)*s - 2p + f
        ("28x28x64", "conv_transpose(32, 2, stride=2)", ((56, 56, 32), 4 * 64 * 32 + 32, 0, 4 * 64 * 32 * 784)),
        ("7x7x8", "conv_transpose(4, 3, stride=2, padding=1, output_padding=1)",
         ((14, 14, 4), 9 * 32 + 4, 0, 9 * 32 * 49)),
        ("7x7x8", "conv_transpose(4, 3, stride=2, padding=same)", ((14, 14, 4), 9 * 32 + 4, 0, 9 * 32 * 49)),
        # scale: x * factor, the input's shape, no weights, no MACs (a multiply by a constant is not a MAC)
        ("6x6x4", "scale(0.17)", ((6, 6, 4), 0, 0, 0)),
        ("10", "scale(factor=-2)", ((10,), 0, 0, 0)),
        # pools
        ("112x112x64", "maxpool(3, stride=2, padding=1)", ((56, 56, 64), 0, 0, 0)),
        ("112x112x64", "maxpool(3, stride=2, ceil=true)", ((56, 56, 64), 0, 0, 0)),
        ("112x112x64", "maxpool(3, stride=2)", ((55, 55, 64), 0, 0, 0)),
        ("55x55x96", "maxpool(3, stride=2)", ((27, 27, 96), 0, 0, 0)),
        ("28x28x6", "avgpool(2)", ((14, 14, 6), 0, 0, 0)),
        ("35x35x8", "avgpool(3, stride=1, padding=same)", ((35, 35, 8), 0, 0, 0)),
        ("7x7x512", "global_avgpool", ((512,), 0, 0, 0)),
        ("7x7x512", "global_maxpool(keepdims=true)", ((1, 1, 512), 0, 0, 0)),
        ("13x13x256", "adaptive_avgpool(6)", ((6, 6, 256), 0, 0, 0)),
        ("14x14x8", "upsample(2)", ((28, 28, 8), 0, 0, 0)),
        ("14x14x8", "upsample((2, 3), mode=bilinear)", ((28, 42, 8), 0, 0, 0)),
        # normalisation, regularisation, reshaping
        ("8x8x64", "batchnorm", ((8, 8, 64), 128, 128, 0)),
        ("8x8x64", "batchnorm(scale=false)", ((8, 8, 64), 64, 128, 0)),
        ("8x8x64", "batchnorm(frozen=true)", ((8, 8, 64), 0, 256, 0)),
        ("55x55x96", "lrn(5, alpha=0.0001, beta=0.75, k=2)", ((55, 55, 96), 0, 0, 0)),
        ("10", "dropout(0.5)", ((10,), 0, 0, 0)),
        ("28x28x1", "zeropad(2)", ((32, 32, 1), 0, 0, 0)),
        ("28x28x1", "zeropad(((1, 2), (3, 4)))", ((31, 35, 1), 0, 0, 0)),
        ("568x568x64", "crop(88)", ((392, 392, 64), 0, 0, 0)),
        ("5x5x16", "flatten", ((400,), 0, 0, 0)),
        ("400", "reshape((5, 5, -1))", ((5, 5, 16), 0, 0, 0)),
        # dense and activations
        ("400", "dense(120)", ((120,), 48120, 0, 48000)),
        ("400", "dense(120, bias=false, frozen=true)", ((120,), 0, 48000, 48000)),
        ("8x8x6", "maxout(3)", ((8, 8, 2), 0, 0, 0)),
        ("10", "softmax", ((10,), 0, 0, 0)),
        ("10", "leaky_relu(0.2)", ((10,), 0, 0, 0)),
        ("6x6x1", "conv(1, 3, weights=vertical, bias=false)", ((4, 4, 1), 0, 9, 9 * 16)),
    ],
)
def test_shape_and_cost(spec_file, shape, step, expected):
    assert layer(spec_file, shape, step) == expected


@pytest.mark.parametrize(
    "merge, shape",
    [
        ("add(x, x -> relu)", (8, 8, 4)),
        ("concat(x, x -> conv(6, 1))", (8, 8, 10)),
        ("multiply(x, x -> global_avgpool(keepdims=true))", (8, 8, 4)),
        ("multiply(x, x -> global_avgpool)", (8, 8, 4)),
        ("z = (x, x) -> add\n  z", (8, 8, 4)),
    ],
)
def test_merges(spec_file, merge, shape):
    text = f"network T() {{\n  input x: 8x8x4\n  {merge} -> output y\n}}\n"
    analysis = analyze(spec_file(text))
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    assert analysis.graph.node(analysis.graph.outputs["y"]).shape == shape


def test_worked_example_of_the_course(spec_file):
    text = """network Worked() {
  input x: 39x39x3
  x -> conv(10, 3) -> conv(20, 5, stride=2) -> conv(40, 5, stride=2) -> flatten -> output y
}
"""
    graph = analyze(spec_file(text)).graph
    rows = [(n.shape, n.params.total) for n in graph.topological()][1:]
    assert rows == [((37, 37, 10), 280), ((17, 17, 20), 5020), ((7, 7, 40), 20040), ((1960,), 0)]


LENET = """network LeNet5(num_classes: int = 10) {
  input x: 32x32x1
  x -> conv(6, 5) -> tanh -> avgpool(2, stride=2)
    -> conv(16, 5) -> tanh -> avgpool(2, stride=2)
    -> flatten -> dense(120) -> tanh -> dense(84) -> tanh
    -> dense(num_classes) -> softmax -> output y
}
"""


def test_lenet5_counts(spec_file):
    analysis = analyze(spec_file(LENET))
    assert analysis.cost.params.trainable == 61706
    assert analysis.cost.macs == 416520
    assert analysis.cost.flops == 833040
    assert analysis.graph.params["num_classes"].structural is False


def test_parameters_override_and_structure(spec_file):
    path = spec_file(LENET)
    analysis = analyze(path, overrides={"num_classes": 100})
    assert analysis.graph.node(analysis.graph.outputs["y"]).shape == (100,)
    assert analysis.cost.params.trainable == 61706 - 850 + 84 * 100 + 100


def test_input_override_for_a_fully_convolutional_net(spec_file):
    text = ("network F() {\n  input x: 64x64x3\n"
            "  x -> conv(8, 3, padding=same) -> maxpool(2) -> conv(2, 1) -> output y\n}\n")
    analysis = analyze(spec_file(text), input_shapes={None: (512, 512, 3)})
    assert analysis.graph.node(analysis.graph.outputs["y"]).shape == (256, 256, 2)


def test_receptive_field(spec_file):
    text = ("network R() {\n  input x: 64x64x3\n"
            "  x -> conv(8, 3) -> conv(8, 3) -> maxpool(2) -> conv(8, 3) as last -> output y\n}\n")
    graph = analyze(spec_file(text)).graph
    assert graph.node("last").receptive_field == (10, 10)


def test_shared_weights_count_once(spec_file):
    text = """network S() {
  input a: 16x16x3
  input b: 16x16x3
  shared f = conv(8, 3)
  a -> f -> flatten -> output ea
  b -> f -> flatten -> output eb
}
"""
    analysis = analyze(spec_file(text))
    assert analysis.cost.params.trainable == 3 * 9 * 8 + 8
    assert analysis.cost.macs == 2 * 27 * 8 * 196
    second = [n for n in analysis.graph.topological() if n.shares]
    assert [n.shares for n in second] == ["f"]


def test_frozen_block_moves_every_weight_to_non_trainable(spec_file):
    text = "network Z() {\n  input x: 8x8x3\n  x -> conv_bn(4, frozen=true) -> flatten -> dense(2) -> output y\n}\n"
    p = analyze(spec_file(text)).cost.params
    assert (p.trainable, p.non_trainable) == (8 * 8 * 4 * 2 + 2, 3 * 9 * 4 + 4 * 4)


def test_stdlib_blocks_and_scaling_helpers(spec_file):
    text = """network B(width: float = 1.4, depth: float = 1.8) {
  input x: 32x32x16
  h = x
  repeat round_repeats(3, depth) { h = h -> mbconv(round_filters(16, width), expand=6) }
  h -> fire(8, 16, 16) -> dense_block(2, growth=8) -> transition -> output y
}
"""
    analysis = analyze(spec_file(text))
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    assert analysis.graph.node(analysis.graph.outputs["y"]).shape == (16, 16, 24)
    assert sum(1 for n in analysis.graph.topological() if n.id.endswith("expand_conv.conv1")) == 6
