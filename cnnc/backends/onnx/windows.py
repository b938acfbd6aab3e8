"""ONNX emitters for the ops that slide a window: convolutions and pooling.

ONNX takes padding as (begins..., ends...) per spatial axis, so TensorFlow's asymmetric `same`
padding is written as it is, with no separate Pad node.  Max pooling ignores padded cells and
average pooling is asked not to count them (`count_include_pad=0`), the IR's semantics.
"""

from __future__ import annotations

import math

import numpy as np

from cnnc.backends.common import Pairs, transpose_crops, window_geometry
from cnnc.backends.onnx.site import Site, emits
from cnnc.ir.shape_math import per_dim


def onnx_pads(pairs: Pairs) -> list[int]:
    """(before, after) per axis -> ONNX's [before..., after...]."""
    return [before for before, _ in pairs] + [after for _, after in pairs]


def _conv(site: Site, x: str, prefix: str, kernel: tuple, with_bias: bool, **attrs) -> str:
    inputs = [x, site.weight(f"{prefix}weight")] + ([site.weight(f"{prefix}bias")] if with_bias else [])
    return site.op("Conv", inputs, kernel_shape=list(kernel), **attrs)


def _window_attrs(site: Site) -> tuple[tuple, dict]:
    kernel, stride, dilation, pairs = window_geometry(site.node, site.shape)
    return kernel, {"strides": list(stride), "dilations": list(dilation), "pads": onnx_pads(pairs)}


@emits("conv")
def emit_conv(site: Site) -> str:
    kernel, attrs = _window_attrs(site)
    return _conv(site, site.x, "", kernel, site.attrs.bias, group=site.attrs.groups, **attrs)


@emits("depthwise")
def emit_depthwise(site: Site) -> str:
    kernel, attrs = _window_attrs(site)
    return _conv(site, site.x, "", kernel, site.attrs.bias, group=site.channels, **attrs)


@emits("separable")
def emit_separable(site: Site) -> str:
    """Depthwise (no bias) then pointwise (with the bias), the PyTorch model's two convolutions."""
    kernel, attrs = _window_attrs(site)
    depthwise = _conv(site, site.x, "depthwise.", kernel, False, group=site.channels, **attrs)
    return _conv(site, depthwise, "pointwise.", (1,) * site.rank, site.attrs.bias)


@emits("pointwise")
def emit_pointwise(site: Site) -> str:
    return _conv(site, site.x, "", (1,) * site.rank, site.attrs.bias)


@emits("conv_transpose")
def emit_conv_transpose(site: Site) -> str:
    """The full output (n - 1) * s + k cropped as the IR says (`transpose_crops`): ONNX takes the
    crop at each end as pads and cells added at the end as output_padding."""
    kernel, stride, dilation, crops = transpose_crops(site.attrs, site.shape[:-1])
    pairs = tuple((before, max(after, 0)) for before, after in crops)
    extra = [max(-after, 0) for _, after in crops]
    inputs = [site.x, site.weight("weight")] + ([site.weight("bias")] if site.attrs.bias else [])
    return site.op(
        "ConvTranspose",
        inputs,
        kernel_shape=list(kernel),
        strides=list(stride),
        pads=onnx_pads(pairs),
        output_padding=extra,
        dilations=list(dilation),
        group=site.attrs.groups,
    )


@emits("maxpool", "avgpool")
def emit_pool(site: Site) -> str:
    """Padding at the end is made exactly enough for the IR's output size, which also covers
    PyTorch's ceil mode (its last window may start in the padding, never past it)."""
    kernel, stride, dilation, pairs = window_geometry(site.node, site.shape)
    window = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    sizes, out = site.shape[:-1], site.node.shape[:-1]
    if site.node.op.name == "avgpool" and site.attrs.count_include_pad:
        return _counted_avg_pool(site, pairs, kernel, stride)
    pairs = tuple((b, max(0, (o - 1) * s + w - n - b)) for (b, _), n, w, s, o in zip(pairs, sizes, window, stride, out))
    attrs = {"kernel_shape": list(kernel), "strides": list(stride), "dilations": list(dilation)}
    is_max = site.node.op.name == "maxpool"
    if all(max(pair) < k for pair, k in zip(pairs, kernel)):
        kind, extra = ("MaxPool", {}) if is_max else ("AveragePool", {"count_include_pad": 0})
        return site.op(kind, [site.x], pads=onnx_pads(pairs), **attrs, **extra)
    # onnxruntime wants pads below the (undilated) kernel: a dilated window's wider padding is a Pad
    # node, -inf for max; an average divides by the pool of the padded ones (the real cells counted).
    pads = site.ints(onnx_pads(((0, 0), (0, 0), *pairs)), "pads")
    if is_max:
        padded = site.op("Pad", [site.x, pads, site.constant(np.array(-np.inf, np.float32), "neg_inf")])
        return site.op("MaxPool", [padded], **attrs)
    ones = site.op("Pad", [site.constant(np.ones((1, 1, *sizes)), "ones"), pads])
    total = site.op("AveragePool", [site.op("Pad", [site.x, pads])], **attrs)
    return site.op("Div", [total, site.op("AveragePool", [ones], **attrs)])


def _counted_avg_pool(site: Site, pairs: Pairs, kernel: tuple, stride: tuple) -> str:
    """`count_include_pad=true`: AveragePool counts its `pads`.  Ceil mode's cells past the declared
    padding must not count, so there the padding is a Pad of zeros and the rest uncounted pads."""
    sizes, out = site.shape[:-1], site.node.shape[:-1]
    overhang = tuple(
        (0, max(0, (o - 1) * s + k - (n + b + a))) for (b, a), n, k, s, o in zip(pairs, sizes, kernel, stride, out)
    )
    attrs = {"kernel_shape": list(kernel), "strides": list(stride)}
    if not any(after for _, after in overhang):
        return site.op("AveragePool", [site.x], count_include_pad=1, pads=onnx_pads(pairs), **attrs)
    zeros = site.op("Pad", [site.x, site.ints(onnx_pads(((0, 0), (0, 0), *pairs)), "pads")])
    return site.op("AveragePool", [zeros], count_include_pad=0, pads=onnx_pads(overhang), **attrs)


@emits("global_avgpool", "global_maxpool")
def emit_global_pool(site: Site) -> str:
    kind = "GlobalAveragePool" if site.node.op.name == "global_avgpool" else "GlobalMaxPool"
    pooled = site.op(kind, [site.x])
    return pooled if site.attrs.keepdims else site.op("Flatten", [pooled], axis=1)


@emits("adaptive_avgpool")
def emit_adaptive_pool(site: Site) -> str:
    """PyTorch's adaptive windows: output i of n -> o averages [floor(i n / o), ceil((i + 1) n / o)).
    Where o divides n that is plain average pooling; otherwise the windows overlap or differ in
    size, and each axis, moved last, is multiplied by the matrix of averaging weights."""
    sizes, out = site.shape[:-1], per_dim(site.attrs.size, site.rank, "size")
    if all(n % o == 0 for n, o in zip(sizes, out)):
        step = [n // o for n, o in zip(sizes, out)]
        return site.op("AveragePool", [site.x], kernel_shape=step, strides=step)
    x, dims = site.x, 2 + site.rank
    for axis, (n, o) in enumerate(zip(sizes, out), start=2):
        if n == o:
            continue
        swap = list(range(dims))
        swap[axis], swap[-1] = swap[-1], swap[axis]
        moved = site.op("Transpose", [x], perm=swap) if axis != dims - 1 else x
        pooled = site.op("MatMul", [moved, site.constant(_averaging_matrix(n, o).T, f"adaptive{axis}")])
        x = site.op("Transpose", [pooled], perm=swap) if axis != dims - 1 else pooled
    return x


def _averaging_matrix(n: int, o: int) -> np.ndarray:
    matrix = np.zeros((o, n), dtype=np.float32)
    for i in range(o):
        start, end = (i * n) // o, math.ceil((i + 1) * n / o)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix
