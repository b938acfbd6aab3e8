"""Keras layers for the ops Keras has no exact built-in for.

This module is the source the backend copies from: a generated model that
needs one of these classes gets the class's text pasted in (generated code
imports only keras), so every class here stands alone.  Each is registered for
`.keras` saving under the package "cnnc" and returns its arguments from
`get_config`.  The module is importable too, so the tests exercise the same code.
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="cnnc")
class PaddedMaxPool(layers.Layer):
    """Max pooling of an input padded with -inf: PyTorch's MaxPool with explicit padding or ceil_mode."""

    def __init__(self, pool_size, strides, pads, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = tuple(pool_size)
        self.strides = tuple(strides)
        self.pads = tuple(tuple(pair) for pair in pads)

    def call(self, x):
        x = ops.pad(x, ((0, 0), *self.pads, (0, 0)), constant_values=float("-inf"))
        return ops.max_pool(x, self.pool_size, self.strides, padding="valid")

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides, "pads": self.pads}


@keras.saving.register_keras_serializable(package="cnnc")
class PaddedAvgPool(layers.Layer):
    """Average pooling that does not count padded cells (PyTorch's count_include_pad=False, ceil_mode)."""

    def __init__(self, pool_size, strides, pads, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = tuple(pool_size)
        self.strides = tuple(strides)
        self.pads = tuple(tuple(pair) for pair in pads)

    def call(self, x):
        pads = ((0, 0), *self.pads, (0, 0))
        # mean of the zero-padded input / fraction of real cells in the window = sum / count of real cells
        total = ops.average_pool(ops.pad(x, pads), self.pool_size, self.strides, padding="valid")
        real = ops.average_pool(ops.pad(ops.ones_like(x[..., :1]), pads), self.pool_size, self.strides, "valid")
        return total / real

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides, "pads": self.pads}


@keras.saving.register_keras_serializable(package="cnnc")
class DilatedPool(layers.Layer):
    """Max or average pooling with a dilated window (ONNX's and PyTorch's `dilation`), padded
    cells ignored: the window's taps are strided slices of the padded input, one per tap."""

    def __init__(self, mode, pool_size, strides, dilation, pads, **kwargs):
        super().__init__(**kwargs)
        self.mode = mode
        self.pool_size, self.strides, self.dilation = tuple(pool_size), tuple(strides), tuple(dilation)
        self.pads = tuple(tuple(pair) for pair in pads)

    def _taps(self, x):
        sizes = x.shape[1:-1]
        out = [(n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(sizes, self.pool_size, self.strides, self.dilation)]
        offsets = [()]
        for k, d in zip(self.pool_size, self.dilation):
            offsets = [o + (i * d,) for o in offsets for i in range(k)]
        for start in offsets:
            spans = tuple(slice(b, b + (o - 1) * s + 1, s) for b, o, s in zip(start, out, self.strides))
            yield x[(slice(None), *spans, slice(None))]

    def call(self, x):
        pads = ((0, 0), *self.pads, (0, 0))
        if self.mode == "max":
            taps = list(self._taps(ops.pad(x, pads, constant_values=float("-inf"))))
            result = taps[0]
            for tap in taps[1:]:
                result = ops.maximum(result, tap)
            return result
        total = sum(self._taps(ops.pad(x, pads)))
        count = sum(self._taps(ops.pad(ops.ones_like(x[..., :1]), pads)))
        return total / count

    def get_config(self):
        config = {"mode": self.mode, "pool_size": self.pool_size, "strides": self.strides}
        return {**super().get_config(), **config, "dilation": self.dilation, "pads": self.pads}


@keras.saving.register_keras_serializable(package="cnnc")
class LocalResponseNorm(layers.Layer):
    """torch.nn.LocalResponseNorm: x / (k + alpha / size * sum of x^2 over `size` neighbouring channels)^beta."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, **kwargs):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def call(self, x):
        channels = x.shape[-1]
        # the window is centred, with the odd cell at the start, as torch pads (size // 2, (size - 1) // 2)
        pads = ((0, 0),) * (len(x.shape) - 1) + ((self.size // 2, (self.size - 1) // 2),)
        squares = ops.pad(ops.square(x), pads)
        total = squares[..., :channels]
        for i in range(1, self.size):
            total = total + squares[..., i : i + channels]
        return x / ops.power(self.k + self.alpha / self.size * total, self.beta)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k}


@keras.saving.register_keras_serializable(package="cnnc")
class Maxout(layers.Layer):
    """The max over each group of `pieces` consecutive channels."""

    def __init__(self, pieces=2, **kwargs):
        super().__init__(**kwargs)
        self.pieces = pieces

    def call(self, x):
        groups = ops.reshape(x, (-1, *x.shape[1:-1], x.shape[-1] // self.pieces, self.pieces))
        return ops.max(groups, axis=-1)

    def get_config(self):
        return {**super().get_config(), "pieces": self.pieces}


@keras.saving.register_keras_serializable(package="cnnc")
class SeparableConv3D(layers.Layer):
    """Depthwise 3D convolution (no bias) then a 1x1x1 pointwise one (with bias): Keras has no 3D separable."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        dilation_rate=1,
        depth_multiplier=1,
        use_bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters, self.padding = filters, padding
        self.kernel_size, self.strides, self.dilation_rate = (
            tuple(v) if isinstance(v, (list, tuple)) else (v,) * 3 for v in (kernel_size, strides, dilation_rate)
        )
        self.depth_multiplier, self.use_bias = depth_multiplier, use_bias

    def build(self, input_shape):
        channels = input_shape[-1]
        self.depthwise_kernel = self.add_weight(
            name="depthwise_kernel", shape=(*self.kernel_size, channels, self.depth_multiplier)
        )
        self.pointwise_kernel = self.add_weight(
            name="pointwise_kernel", shape=(1, 1, 1, channels * self.depth_multiplier, self.filters)
        )
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros") if self.use_bias else None

    def call(self, x):
        # (kd, kh, kw, c, m) -> (kd, kh, kw, 1, c * m): a grouped convolution with one group per channel
        grouped = ops.reshape(self.depthwise_kernel, (*self.kernel_size, 1, -1))
        h = ops.conv(x, grouped, self.strides, self.padding, dilation_rate=self.dilation_rate)
        y = ops.conv(h, self.pointwise_kernel)
        return y + self.bias if self.use_bias else y

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
            "depth_multiplier": self.depth_multiplier,
            "use_bias": self.use_bias,
        }


@keras.saving.register_keras_serializable(package="cnnc")
class GroupedConvTranspose(layers.Layer):
    """A transposed convolution in `groups` channel groups (Keras' Conv*DTranspose has no `groups`):
    one kernel (*k, filters // groups, in), as Conv*DTranspose's (*k, out, in) with the outputs divided;
    group i maps input channels [i * in/g, (i + 1) * in/g) to output channels [i * out/g, (i + 1) * out/g)."""

    def __init__(
        self,
        filters,
        kernel_size,
        groups,
        strides=1,
        padding="valid",
        output_padding=None,
        dilation_rate=1,
        use_bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.groups, self.strides = filters, kernel_size, groups, strides
        self.padding, self.output_padding, self.dilation_rate, self.use_bias = (
            padding,
            output_padding,
            dilation_rate,
            use_bias,
        )

    def build(self, input_shape):
        rank = len(input_shape) - 2
        size = self.kernel_size if isinstance(self.kernel_size, (list, tuple)) else (self.kernel_size,) * rank
        shape = (*size, self.filters // self.groups, input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=shape)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros") if self.use_bias else None

    def call(self, x):
        step = x.shape[-1] // self.groups
        parts = [
            ops.conv_transpose(
                x[..., i * step : (i + 1) * step],
                self.kernel[..., i * step : (i + 1) * step],
                self.strides,
                self.padding,
                output_padding=self.output_padding,
                dilation_rate=self.dilation_rate,
            )
            for i in range(self.groups)
        ]
        y = ops.concatenate(parts, axis=-1)
        return y + self.bias if self.use_bias else y

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "groups": self.groups,
            "strides": self.strides,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "dilation_rate": self.dilation_rate,
            "use_bias": self.use_bias,
        }
