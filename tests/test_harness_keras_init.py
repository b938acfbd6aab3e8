"""--init torch on Keras: PyTorch's default initialisation (uniform within +-1/sqrt(fan_in)), seeded."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cnnc.tasks.runtime.keras_lib import torch_init  # noqa: E402


def _model():
    x = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(4, 3, name="conv")(x)
    h = keras.layers.DepthwiseConv2D(3, name="depthwise")(h)
    h = keras.layers.SeparableConv2D(5, 1, name="separable")(h)
    y = keras.layers.Dense(7, name="dense")(keras.layers.Flatten()(h))
    return keras.Model(x, y)


def test_kernels_and_biases_lie_within_torchs_bounds_and_follow_the_seed():
    model = _model()
    torch_init(model, seed=3)
    bounds = {"conv": 1 / np.sqrt(27), "depthwise": 1 / np.sqrt(9), "dense": 1 / np.sqrt(4 * 4 * 5)}
    for name, bound in bounds.items():
        layer = model.get_layer(name)
        kernel = layer.kernel.numpy()
        assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.8 * bound, name
        assert np.abs(layer.bias.numpy()).max() <= bound, name
    separable = model.get_layer("separable")
    assert np.abs(separable.depthwise_kernel.numpy()).max() <= 1.0  # fan-in 1x1 per channel
    assert np.abs(separable.pointwise_kernel.numpy()).max() <= 1 / np.sqrt(4)
    again = _model()
    torch_init(again, seed=3)
    assert np.array_equal(again.get_layer("dense").kernel.numpy(), model.get_layer("dense").kernel.numpy())
