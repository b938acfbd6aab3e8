"""The op records: one declarative record per op.

Each record holds the op's attribute schema, its positional argument order,
its input arity, its shape rule, its parameter count and its multiply-adds, the
window it slides (for the receptive field), and every other fact that more than
one module needs (`width_attr`, `shape_free_attrs`, `passes_width`,
`layout_free`, `keeps_values`: see `Op`).  Passes, backends and tasks read these
facts instead of naming ops; backends keep a table from op name to emitter.
Adding an op is one record here (its attributes in attrs.py) and one emitter per
backend.

Cost convention (torchvision's published GFLOPS): MACs are the multiply-
accumulates of convolutions (kernel volume x input channels / groups x output
channels x output positions) and dense layers (inputs x outputs), without bias,
batch norm, activations, pooling or adds, batch 1.  FLOPs = 2 x MACs.

Parameters are split as the frameworks report them: Keras' non-trainable
weights (batch-norm moving mean and variance; frozen layers) and PyTorch's
buffers plus parameters with requires_grad=False.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from cnnc.ir import attrs as A
from cnnc.ir.shape_math import (
    Shape,
    ShapeError,
    fmt,
    pad_pairs,
    per_dim,
    spatial_rank,
    window_output,
)


@dataclass(frozen=True)
class Params:
    trainable: int = 0
    non_trainable: int = 0

    def __add__(self, other: Params) -> Params:
        return Params(self.trainable + other.trainable, self.non_trainable + other.non_trainable)

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable

    def frozen(self) -> Params:
        return Params(0, self.total)


ShapeRule = Callable[[A.Attrs, list[Shape]], Shape]
CostRule = Callable[[A.Attrs, list[Shape], Shape], int]
ParamRule = Callable[[A.Attrs, list[Shape], Shape], Params]
Window = tuple[tuple[int, ...], tuple[int, ...]]  # effective kernel, stride per spatial axis


def _no_params(attrs, ins, out) -> Params:
    return Params()


def _no_macs(attrs, ins, out) -> int:
    return 0


def _same_shape(attrs, ins) -> Shape:
    return ins[0]


@dataclass(frozen=True)
class Op:
    """One op of the language: everything the passes, backends and tasks need to know about it."""

    name: str
    family: str  # conv | pool | global_pool | norm | activation | merge | reshape | dense | regularize | io
    attrs: type[A.Attrs]
    doc: str
    positional: tuple[str, ...] = ()
    min_inputs: int = 1
    max_inputs: int | None = 1
    shape: ShapeRule = _same_shape
    params: ParamRule = _no_params
    macs: CostRule = _no_macs
    window: Callable[[A.Attrs, int], Window] | None = None
    width_attr: str | None = None
    """The attribute that sets the output's last axis (channels or units).  A new value resizes
    this layer's output alone, so a network parameter bound to it can be a model constructor
    argument when every op after it passes the width on (`passes_width`)."""
    shape_free_attrs: frozenset[str] = frozenset()
    """Attributes whose value changes no shape (a rate, a slope, `bias`): a generated model may
    take them from constructor arguments."""
    layout_free: bool = False
    """Permuting the positions of the input permutes the output alike (activations, softmax over a
    flat vector, dropout, batch norm, add, multiply): a flat tensor's element order, which
    differs between PyTorch and Keras after `flatten`, passes through unchanged."""
    passes_width: bool = False
    """One input, no weights, and nothing in it depends on the input's channel count (activations,
    pools, padding, flatten): a width change before it resizes its output, and nothing else."""
    takes_width: bool = False
    """Its output's shape does not depend on its input's width, which its weights' shape takes as
    it comes (dense): a width parameter before it can still be a constructor argument, and the
    PyTorch layer is written with that argument as its input width (`nn.Linear(k, k)`)."""
    keeps_values: bool = False
    """At inference the output holds the input's values as they are (identity, dropout, flatten,
    reshape): only the layout may change, so what comes before it means the same after it."""
    not_in_onnx: str | None = None
    """Why standard ONNX operators cannot express the op, if they cannot: `--target onnx` then
    stops with E0801 at each use, saying so.  None for every op today."""

    @property
    def has_weights(self) -> bool:
        return self.params is not _no_params


OPS: dict[str, Op] = {}
ALIASES: dict[str, str] = {"silu": "swish", "deconv": "conv_transpose", "bn": "batchnorm"}


def register(op: Op) -> Op:
    assert op.name not in OPS, op.name
    OPS[op.name] = op
    return op


def lookup(name: str) -> Op | None:
    return OPS.get(ALIASES.get(name, name))


# --- convolution family ------------------------------------------------------

_BIAS = frozenset({"bias"})  # with or without a bias, a layer's output shape is the same


def _conv_window(attrs, rank: int) -> Window:
    kernel = per_dim(attrs.kernel, rank, "kernel")
    dilation = per_dim(getattr(attrs, "dilation", 1), rank, "dilation")
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation)), per_dim(attrs.stride, rank, "stride")


def _sliding(attrs, shape: Shape, op: str, channels_out: int) -> Shape:
    rank = spatial_rank(shape, op)
    kernel = per_dim(attrs.kernel, rank, "kernel")
    stride = per_dim(attrs.stride, rank, "stride")
    dilation = per_dim(getattr(attrs, "dilation", 1), rank, "dilation")
    if attrs.padding == "same" and any(s > 1 for s in stride) and any(d > 1 for d in dilation):
        raise ShapeError("`padding=same` with both stride and dilation above 1 is not supported", code="E0305")
    return window_output(shape[:-1], kernel, stride, attrs.padding, dilation) + (channels_out,)


def _kernel_volume(attrs, shape: Shape) -> int:
    return math.prod(per_dim(attrs.kernel, len(shape) - 1, "kernel"))


def _conv_shape(attrs: A.ConvAttrs, ins) -> Shape:
    cin = ins[0][-1]
    for what, n in (("input", cin), ("output", attrs.filters)):
        if n % attrs.groups:
            raise ShapeError(
                f"groups={attrs.groups} does not divide the {what} channels {n}",
                code="E0305",
                help="the channels on both sides must be multiples of `groups`",
            )
    if attrs.weights is not None:
        _check_constant_kernel(attrs, ins[0])
    return _sliding(attrs, ins[0], "conv", attrs.filters)


def constant_kernel(attrs: A.ConvAttrs) -> A.Matrix:
    """The fixed 2D kernel of a conv with `weights=`: one per (out, in) pair."""
    w = attrs.weights
    return A.CONSTANT_KERNELS[w] if isinstance(w, str) else w


def _check_constant_kernel(attrs: A.ConvAttrs, shape: Shape) -> None:
    matrix = constant_kernel(attrs)
    if len(shape) != 3:
        raise ShapeError("constant kernels are 2D: the input must be h x w x c", code="E0305")
    got = (len(matrix), len(matrix[0]) if matrix else 0)
    if any(len(row) != got[1] for row in matrix) or got != per_dim(attrs.kernel, 2, "kernel"):
        raise ShapeError(
            f"the constant kernel is {got[0]}x{got[1]} but the conv's kernel is "
            f"{'x'.join(map(str, per_dim(attrs.kernel, 2, 'kernel')))}",
            code="E0305",
        )


def _conv_params(attrs: A.ConvAttrs, ins, out) -> Params:
    weights = _kernel_volume(attrs, ins[0]) * ins[0][-1] // attrs.groups * attrs.filters
    return Params(weights + attrs.filters * attrs.bias)


def _positions(shape: Shape) -> int:
    return math.prod(shape[:-1])


def _conv_macs(attrs: A.ConvAttrs, ins, out) -> int:
    return _kernel_volume(attrs, ins[0]) * ins[0][-1] // attrs.groups * attrs.filters * _positions(out)


register(
    Op(
        "conv",
        "conv",
        A.ConvAttrs,
        "Convolution over 1D, 2D or 3D input (rank from the input).",
        positional=("filters", "kernel"),
        shape=_conv_shape,
        params=_conv_params,
        macs=_conv_macs,
        window=_conv_window,
        width_attr="filters",
        shape_free_attrs=_BIAS,
    )
)


def _depthwise_shape(attrs: A.DepthwiseAttrs, ins) -> Shape:
    return _sliding(attrs, ins[0], "depthwise", ins[0][-1] * attrs.multiplier)


def _depthwise_params(attrs: A.DepthwiseAttrs, ins, out) -> Params:
    return Params(_kernel_volume(attrs, ins[0]) * out[-1] + out[-1] * attrs.bias)


def _depthwise_macs(attrs: A.DepthwiseAttrs, ins, out) -> int:
    return _kernel_volume(attrs, ins[0]) * out[-1] * _positions(out)


register(
    Op(
        "depthwise",
        "conv",
        A.DepthwiseAttrs,
        "Depthwise convolution: one filter (times `multiplier`) per input channel.",
        positional=("kernel",),
        shape=_depthwise_shape,
        params=_depthwise_params,
        macs=_depthwise_macs,
        window=_conv_window,
        shape_free_attrs=_BIAS,
    )
)


def _separable_shape(attrs: A.SeparableAttrs, ins) -> Shape:
    return _sliding(attrs, ins[0], "separable", attrs.filters)


def _separable_params(attrs: A.SeparableAttrs, ins, out) -> Params:
    mid = ins[0][-1] * attrs.multiplier
    return Params(_kernel_volume(attrs, ins[0]) * mid + mid * attrs.filters + attrs.filters * attrs.bias)


def _separable_macs(attrs: A.SeparableAttrs, ins, out) -> int:
    mid = ins[0][-1] * attrs.multiplier
    return (_kernel_volume(attrs, ins[0]) * mid + mid * attrs.filters) * _positions(out)


register(
    Op(
        "separable",
        "conv",
        A.SeparableAttrs,
        "Depthwise-separable convolution: depthwise then pointwise, bias on the pointwise only.",
        positional=("filters", "kernel"),
        shape=_separable_shape,
        params=_separable_params,
        macs=_separable_macs,
        window=_conv_window,
        width_attr="filters",
        shape_free_attrs=_BIAS,
    )
)


def _pointwise_shape(attrs: A.PointwiseAttrs, ins) -> Shape:
    spatial_rank(ins[0], "pointwise")
    return ins[0][:-1] + (attrs.filters,)


register(
    Op(
        "pointwise",
        "conv",
        A.PointwiseAttrs,
        "1x1 convolution.",
        positional=("filters",),
        shape=_pointwise_shape,
        params=lambda a, ins, out: Params(ins[0][-1] * a.filters + a.filters * a.bias),
        macs=lambda a, ins, out: ins[0][-1] * a.filters * _positions(out),
        width_attr="filters",
        shape_free_attrs=_BIAS,
    )
)


def transpose_geometry(attrs: A.ConvTransposeAttrs, sizes: Shape) -> tuple[tuple, tuple, tuple]:
    """(dilated kernel, stride, output size) per spatial axis of a transposed convolution.

    Keras' rule (keras.src.utils.conv_utils.deconv_output_length): `same` gives n * s when
    output_padding is not given, else (n - 1) * s + k - 2 * (k // 2) + p; explicit padding
    (PyTorch's) gives (n - 1) * s - 2p + k + output_padding.  Both frameworks refuse
    output_padding >= stride.
    """
    rank = len(sizes)
    kernel = per_dim(attrs.kernel, rank, "kernel")
    stride = per_dim(attrs.stride, rank, "stride")
    dilation = per_dim(attrs.dilation, rank, "dilation")
    window = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    extra = per_dim(attrs.output_padding or 0, rank, "output_padding")
    for s, e in zip(stride, extra):
        if e >= s:
            raise ShapeError(
                f"output_padding {e} is not smaller than the stride {s}",
                code="E0305",
                notes=[
                    f"output_padding adds 0 to stride - 1 = {s - 1} cells at the end: one more stride step "
                    "is a different input size, and PyTorch and Keras both refuse it"
                ],
                help=f"use output_padding below {s}, or a larger stride",
            )
    if attrs.padding == "same":
        if attrs.output_padding is None:
            return window, stride, tuple(n * s for n, s in zip(sizes, stride))
        pairs = tuple((k // 2, k // 2) for k in window)
    else:
        pairs = ((0, 0),) * rank if attrs.padding == "valid" else pad_pairs(attrs.padding, rank)
    out = []
    for n, f, s, (pb, pa), e in zip(sizes, window, stride, pairs, extra):
        size = (n - 1) * s - pb - pa + f + e
        if size < 1:
            pad = f"2*{pb}" if pb == pa else f"{pb}+{pa}"
            raise ShapeError(
                f"transposed convolution gives an empty output ({size})",
                notes=[f"(n - 1) * s - 2p + f + output_padding = ({n} - 1) * {s} - {pad} + {f} + {e} = {size}"],
            )
        out.append(size)
    return window, stride, tuple(out)


def _transpose_shape(attrs: A.ConvTransposeAttrs, ins) -> Shape:
    spatial_rank(ins[0], "conv_transpose")
    for what, n in (("input", ins[0][-1]), ("output", attrs.filters)):
        if n % attrs.groups:
            raise ShapeError(
                f"groups={attrs.groups} does not divide the {what} channels {n}",
                code="E0305",
                help="the channels on both sides must be multiples of `groups`",
            )
    return transpose_geometry(attrs, ins[0][:-1])[2] + (attrs.filters,)


register(
    Op(
        "conv_transpose",
        "conv",
        A.ConvTransposeAttrs,
        "Transposed convolution (learned upsampling). `same` gives n * s, or with `output_padding` "
        "Keras' (n - 1) * s + k - 2 * (k // 2) + p; explicit padding (pairs allowed) crops the full "
        "(n - 1) * s + d * (k - 1) + 1; output_padding must be below the stride. `groups` (Keras: a "
        "GroupedConvTranspose layer); Keras cannot build a stride with a dilation (E0307).",
        positional=("filters", "kernel"),
        shape=_transpose_shape,
        params=lambda a, ins, out: Params(
            _kernel_volume(a, ins[0]) * ins[0][-1] * a.filters // a.groups + a.filters * a.bias
        ),
        macs=lambda a, ins, out: _kernel_volume(a, ins[0]) * ins[0][-1] * a.filters // a.groups * _positions(ins[0]),
        width_attr="filters",
        shape_free_attrs=_BIAS,
    )
)

# --- pooling -----------------------------------------------------------------


def _pool_window(attrs: A.PoolAttrs, rank: int) -> Window:
    size = per_dim(attrs.size, rank, "size")
    dilation = per_dim(attrs.dilation, rank, "dilation")
    return tuple(d * (k - 1) + 1 for k, d in zip(size, dilation)), per_dim(attrs.stride or attrs.size, rank, "stride")


def _pool_shape(attrs: A.PoolAttrs, ins) -> Shape:
    """Explicit padding may reach the window less one cell (ONNX's MaxPool and AveragePool take
    any; PyTorch's own layers stop at half the window, where the backends pad explicitly): every
    window then still holds a real cell."""
    rank = spatial_rank(ins[0], "pool")
    size = per_dim(attrs.size, rank, "size")
    dilation = per_dim(attrs.dilation, rank, "dilation")
    window, stride = _pool_window(attrs, rank)
    if attrs.padding not in ("valid", "same", "same_lower", "causal"):
        for (before, after), f in zip(pad_pairs(attrs.padding, rank), window):
            if max(before, after) >= f:
                raise ShapeError(
                    f"pool padding {max(before, after)} is not smaller than the window {f}",
                    code="E0305",
                    notes=[
                        "a window made only of padding has nothing to pool (ONNX accepts it and gives "
                        "-inf or NaN there; PyTorch's pools stop at half the window)"
                    ],
                    help=f"use padding below {f}",
                )
    if getattr(attrs, "count_include_pad", False) and any(d > 1 for d in dilation):
        raise ShapeError(
            "`count_include_pad=true` with `dilation` is not supported",
            code="E0305",
            notes=["PyTorch's average pools have no dilation, and the dilated pool cnnc writes counts real cells only"],
            help="drop `count_include_pad` or `dilation`",
        )
    return window_output(ins[0][:-1], size, stride, attrs.padding, dilation, attrs.ceil) + ins[0][-1:]


_POOL_DOC = (
    " `dilation` spreads the window (Keras: a DilatedPool layer); explicit padding may reach the window less one cell."
)
for _name, _attrs, _doc in (
    ("maxpool", A.PoolAttrs, "Max pooling." + _POOL_DOC),
    ("avgpool", A.AvgPoolAttrs, "Average pooling (padding not counted unless `count_include_pad=true`)." + _POOL_DOC),
):
    register(
        Op(
            _name,
            "pool",
            _attrs,
            _doc,
            positional=("size",),
            shape=_pool_shape,
            window=_pool_window,
            passes_width=True,
        )
    )


def _global_shape(attrs: A.GlobalPoolAttrs, ins) -> Shape:
    rank = spatial_rank(ins[0], "global pool")
    return ((1,) * rank + ins[0][-1:]) if attrs.keepdims else ins[0][-1:]


for _name in ("global_maxpool", "global_avgpool"):
    register(
        Op(_name, "global_pool", A.GlobalPoolAttrs, "Pool over all positions.", shape=_global_shape, passes_width=True)
    )


def _adaptive_shape(attrs: A.AdaptivePoolAttrs, ins) -> Shape:
    rank = spatial_rank(ins[0], "adaptive_avgpool")
    return per_dim(attrs.size, rank, "size") + ins[0][-1:]


register(
    Op(
        "adaptive_avgpool",
        "pool",
        A.AdaptivePoolAttrs,
        "Average pooling to a fixed output size (PyTorch's AdaptiveAvgPool).",
        positional=("size",),
        shape=_adaptive_shape,
        passes_width=True,
    )
)


def _upsample_shape(attrs: A.UpsampleAttrs, ins) -> Shape:
    rank = spatial_rank(ins[0], "upsample")
    scale = per_dim(attrs.scale, rank, "scale")
    if attrs.mode == "bicubic":
        raise ShapeError(
            "bicubic upsampling is not supported",
            code="E0308",
            notes=[
                "PyTorch's bicubic kernel uses a = -0.75 and TensorFlow's (Keras' UpSampling2D) a = -0.5: "
                "the two generated models would disagree"
            ],
            help="use `mode=bilinear`, or a `conv_transpose` that learns the upsampling",
        )
    if any(s != int(s) for s in scale):
        raise ShapeError(
            f"upsampling by {'x'.join(f'{s:g}' for s in scale)} is not supported: factors are integers",
            code="E0308",
            notes=[
                "PyTorch's interpolate maps a non-integer scale_factor's pixels by 1 / factor, Keras' "
                "Resizing by input / output size: the two generated models would disagree"
            ],
            help="upsample by an integer factor, then pool or crop to the size you need",
        )
    scale = tuple(int(s) for s in scale)
    if attrs.mode == "bilinear" and rank != 2:
        raise ShapeError("bilinear upsampling needs a 2D input", code="E0305", help="use `mode=nearest`")
    return tuple(n * s for n, s in zip(ins[0][:-1], scale)) + ins[0][-1:]


register(
    Op(
        "upsample",
        "pool",
        A.UpsampleAttrs,
        "Upsampling by an integer factor. Non-integer factors and `bicubic` are refused (E0308): "
        "PyTorch and Keras sample them differently.",
        positional=("scale",),
        shape=_upsample_shape,
        passes_width=True,
    )
)

# --- normalisation and regularisation ------------------------------------------


def _bn_params(attrs: A.BatchNormAttrs, ins, out) -> Params:
    c = ins[0][-1]
    return Params(c * (attrs.scale + attrs.center), 2 * c)


register(
    Op(
        "batchnorm",
        "norm",
        A.BatchNormAttrs,
        "Batch normalisation over the channel axis.",
        params=_bn_params,
        layout_free=True,
        shape_free_attrs=frozenset({"momentum", "epsilon"}),
    )
)
register(
    Op(
        "lrn",
        "norm",
        A.LRNAttrs,
        "Local response normalisation across channels (AlexNet).",
        positional=("size",),
        shape_free_attrs=frozenset({"size", "alpha", "beta", "k"}),
        passes_width=True,
    )
)
register(
    Op(
        "dropout",
        "regularize",
        A.DropoutAttrs,
        "Dropout at training time.",
        positional=("rate",),
        layout_free=True,
        keeps_values=True,
        passes_width=True,
        shape_free_attrs=frozenset({"rate"}),
    )
)


def _pad_shape(attrs: A.PadAttrs, ins) -> Shape:
    pairs = pad_pairs(attrs.padding, spatial_rank(ins[0], "zeropad"))
    return tuple(n + b + a for n, (b, a) in zip(ins[0][:-1], pairs)) + ins[0][-1:]


def _crop_shape(attrs: A.CropAttrs, ins) -> Shape:
    pairs = pad_pairs(attrs.cropping, spatial_rank(ins[0], "crop"), "cropping")
    out = tuple(n - b - a for n, (b, a) in zip(ins[0][:-1], pairs))
    for n, size, (b, a) in zip(ins[0][:-1], out, pairs):
        if size < 1:
            raise ShapeError(
                f"cropping {b}+{a} leaves nothing of size {n}",
                notes=[f"n - before - after = {n} - {b} - {a} = {size}"],
            )
    return out + ins[0][-1:]


register(
    Op(
        "zeropad",
        "reshape",
        A.PadAttrs,
        "Zero padding of the spatial axes.",
        positional=("padding",),
        shape=_pad_shape,
        passes_width=True,
    )
)
register(
    Op(
        "crop",
        "reshape",
        A.CropAttrs,
        "Cropping of the spatial axes.",
        positional=("cropping",),
        shape=_crop_shape,
        passes_width=True,
    )
)

# --- reshaping and dense -----------------------------------------------------


def _flatten_shape(attrs: A.FlattenAttrs, ins) -> Shape:
    if attrs.axis >= len(ins[0]):
        raise ShapeError(
            f"flatten axis {attrs.axis} is outside a rank-{len(ins[0])} shape {fmt(ins[0])}",
            code="E0305",
            help="axis 0 flattens everything; axis k keeps the first k axes",
        )
    return ins[0][: attrs.axis] + (math.prod(ins[0][attrs.axis :]),)


register(
    Op(
        "flatten",
        "reshape",
        A.FlattenAttrs,
        "Flatten to one axis (channels-last order); `flatten(k)` keeps the first k axes and folds the rest "
        "into the last, as a reshape (`flatten(1)` makes an h x w x c map h rows of w * c).",
        positional=("axis",),
        shape=_flatten_shape,
        keeps_values=True,
        passes_width=True,
    )
)


def _reshape_shape(attrs: A.ReshapeAttrs, ins) -> Shape:
    total = math.prod(ins[0])
    known = math.prod(d for d in attrs.shape if d != -1)
    unknown = attrs.shape.count(-1)
    if unknown > 1 or 0 in attrs.shape or not attrs.shape:  # `reshape([])` would make a scalar
        raise ShapeError("reshape takes positive sizes and at most one -1", code="E0305")
    if (unknown and total % known) or (not unknown and known != total):
        raise ShapeError(
            f"cannot reshape {fmt(ins[0])} ({total} elements) to {fmt(attrs.shape)}",
            notes=[f"{'x'.join(map(str, ins[0]))} = {total} but the target holds {known}"],
        )
    return tuple(total // known if d == -1 else d for d in attrs.shape)


register(
    Op(
        "reshape",
        "reshape",
        A.ReshapeAttrs,
        "Reshape (channels-last order).",
        positional=("shape",),
        shape=_reshape_shape,
        keeps_values=True,
    )
)


def _dense_shape(attrs: A.DenseAttrs, ins) -> Shape:
    if len(ins[0]) != 1:
        raise ShapeError(
            f"`dense` needs a flat input, got {fmt(ins[0])}",
            code="E0304",
            help="insert `flatten` or a global pool before `dense`",
        )
    return (attrs.units,)


register(
    Op(
        "dense",
        "dense",
        A.DenseAttrs,
        "Fully connected layer.",
        positional=("units",),
        shape=_dense_shape,
        params=lambda a, ins, out: Params(ins[0][0] * a.units + a.units * a.bias),
        macs=lambda a, ins, out: ins[0][0] * a.units,
        width_attr="units",
        shape_free_attrs=_BIAS,
        takes_width=True,
    )
)

# --- activations -------------------------------------------------------------

# One input, output shaped as the input, positions independent (softmax: over the permuted axis alike).
_ELEMENTWISE = {"layout_free": True, "passes_width": True}

for _name in ("relu", "relu6", "sigmoid", "tanh", "swish", "hard_swish", "hard_sigmoid", "gelu"):
    register(Op(_name, "activation", A.NoAttrs, f"{_name} activation.", **_ELEMENTWISE))
register(
    Op(
        "leaky_relu",
        "activation",
        A.LeakyReluAttrs,
        "Leaky ReLU.",
        positional=("alpha",),
        shape_free_attrs=frozenset({"alpha"}),
        **_ELEMENTWISE,
    )
)
register(
    Op(
        "elu",
        "activation",
        A.EluAttrs,
        "ELU.",
        positional=("alpha",),
        shape_free_attrs=frozenset({"alpha"}),
        **_ELEMENTWISE,
    )
)
register(
    Op(
        "softmax",
        "activation",
        A.SoftmaxAttrs,
        "Softmax over an axis (default: channels).",
        positional=("axis",),
        **_ELEMENTWISE,
    )
)
register(
    Op(
        "scale",
        "activation",
        A.ScaleAttrs,
        "Multiplies by a constant factor (InceptionResNet's residual branches: `scale(0.17)`).",
        positional=("factor",),
        shape_free_attrs=frozenset({"factor"}),
        **_ELEMENTWISE,
    )
)


def _maxout_shape(attrs: A.MaxoutAttrs, ins) -> Shape:
    c = ins[0][-1]
    if c % attrs.pieces:
        raise ShapeError(
            f"maxout with {attrs.pieces} pieces needs channels divisible by {attrs.pieces}, got {c}",
            code="E0305",
        )
    return ins[0][:-1] + (c // attrs.pieces,)


register(
    Op(
        "maxout",
        "activation",
        A.MaxoutAttrs,
        "Maxout: the max over groups of `pieces` channels.",
        positional=("pieces",),
        shape=_maxout_shape,
    )
)
register(Op("identity", "activation", A.NoAttrs, "Passes its input through.", keeps_values=True, **_ELEMENTWISE))

# --- merges ------------------------------------------------------------------


def _add_shape(attrs, ins) -> Shape:
    for i, shape in enumerate(ins[1:], start=1):
        if shape != ins[0]:
            raise ShapeError(
                f"`add` of mismatched shapes {fmt(ins[0])} and {fmt(shape)}",
                code="E0302",
                operand=i,
                help=_add_help(ins[0], shape),
            )
    return ins[0]


def _add_help(a: Shape, b: Shape) -> str:
    if a[:-1] == b[:-1]:
        return f"project the shortcut with `conv({a[-1]}, 1)` so the channels match"
    return "make the spatial sizes equal (stride, padding) or project with a strided 1x1 conv"


def _broadcast(a: Shape, b: Shape) -> Shape | None:
    if len(a) < len(b):
        a, b = b, a
    b = (1,) * (len(a) - len(b)) + b
    if all(x == y or y == 1 or x == 1 for x, y in zip(a, b)):
        return tuple(max(x, y) for x, y in zip(a, b))
    return None


def _multiply_shape(attrs, ins) -> Shape:
    out = ins[0]
    for i, shape in enumerate(ins[1:], start=1):
        joined = _broadcast(out, shape)
        if joined is None:
            raise ShapeError(
                f"`multiply` cannot broadcast {fmt(out)} with {fmt(shape)}",
                code="E0302",
                operand=i,
                help="squeeze-and-excitation scales an h x w x c map by 1x1xc or c values",
            )
        out = joined
    return out


def _concat_shape(attrs: A.ConcatAttrs, ins) -> Shape:
    rank = len(ins[0])
    axis = attrs.axis % rank if -rank <= attrs.axis < rank else None
    if axis is None:
        raise ShapeError(f"concat axis {attrs.axis} is outside a rank-{rank} shape", code="E0305")
    for i, shape in enumerate(ins[1:], start=1):
        rest = [d for k, d in enumerate(shape) if k != axis]
        if len(shape) != rank or rest != [d for k, d in enumerate(ins[0]) if k != axis]:
            raise ShapeError(
                f"`concat` of mismatched sizes {fmt(ins[0])} and {fmt(shape)}",
                code="E0303",
                operand=i,
                notes=["all inputs must agree on every axis except the concatenation axis"],
                help="crop or pad the larger input, or fix the strides so the spatial sizes agree",
            )
    total = sum(s[axis] for s in ins)
    return ins[0][:axis] + (total,) + ins[0][axis + 1 :]


register(
    Op(
        "add",
        "merge",
        A.NoAttrs,
        "Elementwise sum of equal shapes.",
        min_inputs=2,
        max_inputs=None,
        shape=_add_shape,
        layout_free=True,
    )
)
register(
    Op(
        "multiply",
        "merge",
        A.NoAttrs,
        "Elementwise product with broadcasting (squeeze-excitation).",
        min_inputs=2,
        max_inputs=None,
        shape=_multiply_shape,
        layout_free=True,
    )
)
register(
    Op(
        "concat",
        "merge",
        A.ConcatAttrs,
        "Concatenation along the channel axis.",
        min_inputs=2,
        max_inputs=None,
        shape=_concat_shape,
    )
)

# --- graph inputs ------------------------------------------------------------

register(Op("input", "io", A.InputAttrs, "A network input.", min_inputs=0, max_inputs=0, shape=lambda a, ins: a.shape))
