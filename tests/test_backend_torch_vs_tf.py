"""TensorFlow is the reference for `padding=same`: the generated PyTorch must give its numbers.

Each case builds a one-layer PyTorch model from a spec, copies its weights
into the matching `tf.nn` op (NHWC) and compares outputs, at sizes and
strides where TensorFlow pads one more pixel at the end than at the start.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_helpers import build

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.slow  # importing TensorFlow alone takes several seconds


def _torch(tmp_path, step: str, shape: str):
    text = f"network T() {{\n  input x: {shape}\n  x -> {step} -> output y\n}}\n"
    _, module, model = build(tmp_path / "t.cnn", text)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    x = torch.randn(2, *module.INPUTS["x"])
    with torch.no_grad():
        y = model.eval()(x)
    return model, x, y


def _nhwc(t: torch.Tensor) -> np.ndarray:
    return t.permute(0, 2, 3, 1).numpy()


def _assert_same(tf_out, torch_out: torch.Tensor) -> None:
    np.testing.assert_allclose(np.asarray(tf_out), _nhwc(torch_out), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("size, kernel, stride", [(7, 3, 2), (8, 3, 2), (8, 4, 2), (9, 2, 3), (6, 4, 1)])
def test_conv_same(tmp_path, size, kernel, stride):
    model, x, y = _torch(tmp_path, f"conv(3, {kernel}, stride={stride}, padding=same)", f"{size}x{size + 1}x2")
    (conv,) = model.children()
    w = conv.weight.detach().permute(2, 3, 1, 0).numpy()  # HWIO
    out = tf.nn.conv2d(_nhwc(x), w, stride, "SAME") + conv.bias.detach().numpy()
    _assert_same(out, y)


@pytest.mark.parametrize("size, stride", [(7, 2), (8, 2)])
def test_depthwise_and_separable_same(tmp_path, size, stride):
    model, x, y = _torch(tmp_path, f"depthwise(3, stride={stride}, padding=same, multiplier=2)", f"{size}x{size}x3")
    (conv,) = model.children()
    w = conv.weight.detach().reshape(3, 2, 3, 3).permute(2, 3, 0, 1).numpy()  # H W C M
    out = tf.nn.depthwise_conv2d(_nhwc(x), w, (1, stride, stride, 1), "SAME") + conv.bias.detach().numpy()
    _assert_same(out, y)
    model, x, y = _torch(tmp_path, f"separable(4, 3, stride={stride}, padding=same)", f"{size}x{size}x3")
    (sep,) = model.children()
    dw = sep.depthwise.weight.detach().reshape(3, 1, 3, 3).permute(2, 3, 0, 1).numpy()
    pw = sep.pointwise.weight.detach().permute(2, 3, 1, 0).numpy()
    out = tf.nn.separable_conv2d(_nhwc(x), dw, pw, (1, stride, stride, 1), "SAME") + sep.pointwise.bias.detach().numpy()
    _assert_same(out, y)


@pytest.mark.parametrize(
    "size, window, stride", [(7, 3, 2), (8, 3, 2), (8, 2, 2), (5, 3, 1), (9, 4, 2), (8, 5, 2), (10, 3, 3), (6, 4, 1)]
)
def test_pools_same(tmp_path, size, window, stride):
    for op, reference in (("maxpool", tf.nn.max_pool2d), ("avgpool", tf.nn.avg_pool2d)):
        _, x, y = _torch(tmp_path, f"{op}({window}, stride={stride}, padding=same)", f"{size}x{size}x2")
        _assert_same(reference(_nhwc(x) - 5.0, window, stride, "SAME") + 5.0, y)  # negative inputs: pads are not 0


@pytest.mark.parametrize("size, kernel, stride", [(4, 3, 2), (4, 4, 2), (5, 2, 2), (3, 1, 2), (4, 5, 3)])
def test_conv_transpose_same(tmp_path, size, kernel, stride):
    model, x, y = _torch(tmp_path, f"conv_transpose(3, {kernel}, stride={stride}, padding=same)",
                         f"{size}x{size}x2")
    (conv,) = model.children()
    w = conv.weight.detach().permute(2, 3, 1, 0).numpy()  # H W out in
    shape = (2, size * stride, size * stride, 3)
    out = tf.nn.conv2d_transpose(_nhwc(x), w, shape, stride, "SAME") + conv.bias.detach().numpy()
    _assert_same(out, y)
