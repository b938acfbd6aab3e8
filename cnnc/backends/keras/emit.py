"""One emitter per op: the Keras source for a node, as Keras users write it.

Each emitter takes the `Builder` and the node, writes its lines and returns the
variable that holds the node's output.  Semantics follow the op records
(cnnc/ir/ops.py): where Keras' own layer differs from the IR (explicit or
asymmetric padding, PyTorch's ceil_mode, pools that must not see padding) the
emitter pads explicitly or uses a small layer from runtime.py.
"""

from __future__ import annotations

from collections.abc import Callable

from cnnc.backends.common import resolve_padding, window_geometry
from cnnc.backends.keras.build import Builder
from cnnc.backends.naming import layer_name
from cnnc.backends.pysource import call, inline, list_of, literal
from cnnc.diagnostics import Diagnostic
from cnnc.ir.graph import Node
from cnnc.ir.ops import constant_kernel
from cnnc.ir.shape_math import pad_pairs, per_dim, same_pad_pairs

Emitter = Callable[[Builder, Node], str]
EMITTERS: dict[str, Emitter] = {}


def emits(*ops: str) -> Callable[[Emitter], Emitter]:
    def register(fn: Emitter) -> Emitter:
        for op in ops:
            EMITTERS[op] = fn
        return fn

    return register


def _rank(b: Builder, node: Node) -> int:
    return len(b.in_shape(node)) - 1


def _opt(b: Builder, node: Node, keyword: str, key: str, default: object) -> list[str]:
    """`keyword=value` unless the attribute keeps Keras' default."""
    if getattr(node.attrs, key) == default and not b.bound(node, key):
        return []
    return [f"{keyword}={b.attr(node, key)}"]


def _pad_spec(pairs: tuple) -> object:
    """Padding pairs in the shortest form Keras' ZeroPadding/Cropping accept."""
    flat = {p for pair in pairs for p in pair}
    if len(flat) == 1:
        return flat.pop()
    return pairs[0] if len(pairs) == 1 else pairs


def _padded(b: Builder, node: Node, x: str, kernel: tuple, stride: tuple, dilation: tuple) -> tuple[str, str]:
    """(Keras padding mode, input): explicit padding equal to TF's `same` at this size is `same`, else zero pad."""
    padding, rank = node.attrs.padding, len(kernel)
    if padding in ("valid", "same"):
        return padding, x
    pairs = resolve_padding(padding, b.in_shape(node)[:-1], kernel, stride, dilation)
    if not any(p for pair in pairs for p in pair):
        return "valid", x
    if pairs == same_pad_pairs(b.in_shape(node)[:-1], kernel, stride, dilation):
        return "same", x
    return "valid", b.aux(node, "pad", f"layers.ZeroPadding{rank}D", [inline(_pad_spec(pairs))], x)


def _window(node: Node, rank: int) -> tuple[tuple, tuple, tuple]:
    a = node.attrs
    return (
        per_dim(a.kernel, rank, "kernel"),
        per_dim(a.stride, rank, "stride"),
        per_dim(getattr(a, "dilation", 1), rank, "dilation"),
    )


def _sliding(b: Builder, node: Node, ctor: str, positional: list[str], keywords: list[str]) -> str:
    """A conv-like layer: explicit padding first; stride as a 1x1 subsampling where Keras refuses it with dilation."""
    rank = _rank(b, node)
    kernel, stride, dilation = _window(node, rank)
    subsample = max(stride) > 1 and max(dilation) > 1  # Keras: strides > 1 not supported with dilation_rate > 1
    layer_stride = (1,) * rank if subsample else stride
    padding, x = _padded(b, node, b.input(node), kernel, layer_stride, dilation)
    args = [*positional, *([] if subsample else _opt(b, node, "strides", "stride", 1))]
    args += [f"padding={literal(padding)}"] if padding != "valid" else []
    args += _opt(b, node, "dilation_rate", "dilation", 1) + keywords + _opt(b, node, "use_bias", "bias", True)
    y = b.layer(node, ctor, args, x)
    if subsample:  # a stride-s convolution is the stride-1 one read at every s-th position
        y = b.aux(node, "stride", f"layers.MaxPooling{rank}D", ["1", f"strides={inline(node.attrs.stride)}"], y)
    return y


@emits("conv")
def emit_conv(b: Builder, node: Node) -> str:
    a = node.attrs
    keywords = _opt(b, node, "groups", "groups", 1)
    if a.weights is not None:
        keywords.append(f"kernel_initializer=keras.initializers.Constant({_kernel_constant(b, node)})")
    positional = [b.attr(node, "filters"), b.attr(node, "kernel")]
    return _sliding(b, node, f"layers.Conv{_rank(b, node)}D", positional, keywords)


def _kernel_constant(b: Builder, node: Node) -> str:
    """A fixed kernel as a (kh, kw, 1, 1) nested list: Constant broadcasts it to every channel pair."""
    matrix = constant_kernel(node.attrs)
    key = node.attrs.weights if isinstance(node.attrs.weights, str) else f"{node.id}_kernel"
    return b.constant(key, literal([[[[float(v)]] for v in row] for row in matrix]))


@emits("depthwise")
def emit_depthwise(b: Builder, node: Node) -> str:
    rank = _rank(b, node)
    if rank < 3:
        multiplier = _opt(b, node, "depth_multiplier", "multiplier", 1)
        return _sliding(b, node, f"layers.DepthwiseConv{rank}D", [b.attr(node, "kernel")], multiplier)
    # Keras has no DepthwiseConv3D: a grouped Conv3D with one group per input channel is the same layer
    groups = [f"groups={b.in_shape(node)[-1]}"]
    return _sliding(b, node, "layers.Conv3D", [inline(node.shape[-1]), b.attr(node, "kernel")], groups)


@emits("separable")
def emit_separable(b: Builder, node: Node) -> str:
    rank = _rank(b, node)
    ctor = f"layers.SeparableConv{rank}D" if rank < 3 else b.use("SeparableConv3D")
    multiplier = _opt(b, node, "depth_multiplier", "multiplier", 1)
    return _sliding(b, node, ctor, [b.attr(node, "filters"), b.attr(node, "kernel")], multiplier)


@emits("pointwise")
def emit_pointwise(b: Builder, node: Node) -> str:
    args = [b.attr(node, "filters"), "1", *_opt(b, node, "use_bias", "bias", True)]
    return b.layer(node, f"layers.Conv{_rank(b, node)}D", args, b.input(node))


@emits("conv_transpose")
def emit_conv_transpose(b: Builder, node: Node) -> str:
    a, rank = node.attrs, _rank(b, node)
    args = [b.attr(node, "filters"), b.attr(node, "kernel"), *_opt(b, node, "strides", "stride", 1)]
    extra = inline(per_dim(a.output_padding or 0, rank, "output_padding"))
    if a.padding == "same":  # Keras' `same` is the IR's rule, with output_padding or without
        args.append('padding="same"')
        args += [] if a.output_padding is None else [f"output_padding={extra}"]
    else:  # with output_padding given, Keras' valid output is (n - 1) * s + f + output_padding
        args.append(f"output_padding={extra}")
    args += _opt(b, node, "dilation_rate", "dilation", 1) + _opt(b, node, "use_bias", "bias", True)
    if a.groups == 1 and not b.bound(node, "groups"):
        y = b.layer(node, f"layers.Conv{rank}DTranspose", args, b.input(node))
    else:  # Conv*DTranspose has no `groups`: one grouped kernel, a transposed conv per group (runtime.py)
        args.insert(2, f"groups={b.attr(node, 'groups')}")
        y = b.layer(node, b.use("GroupedConvTranspose"), args, b.input(node))
    if a.padding not in ("valid", "same") and any(p for pair in pad_pairs(a.padding, rank) for p in pair):
        crop = pad_pairs(a.padding, rank)  # PyTorch's padding trims both ends; a pair trims each its own
        y = b.aux(node, "crop", f"layers.Cropping{rank}D", [inline(_pad_spec(crop))], y)
    return y


def keras_refusals(graph) -> list[Diagnostic]:
    """E0307 at each transposed convolution Keras cannot build: Conv*DTranspose (and ops.conv_transpose,
    which the grouped form uses) refuses strides > 1 with dilation_rate > 1."""
    found = []
    for node in graph.topological():
        if node.op.name != "conv_transpose":
            continue
        a = node.attrs
        rank = len(node.shape) - 1
        stride, dilation = per_dim(a.stride, rank, "stride"), per_dim(a.dilation, rank, "dilation")
        if not (max(stride) > 1 and max(dilation) > 1):
            continue
        reason = f"keras.layers.Conv{rank}DTranspose refuses strides > 1 with dilation_rate > 1"
        found.append(
            Diagnostic(
                "error",
                "E0307",
                "this transposed convolution cannot be built in Keras",
                node.span,
                notes=[reason],
                help="compile with `--target torch` or `--target onnx`, or split it into layers Keras has",
            )
        )
    return found


# --- pooling ------------------------------------------------------------------


def _pool_pads(b: Builder, node: Node, size: tuple, stride: tuple, dilation: tuple) -> str | tuple:
    """`valid`, `same`, or the (before, after) pairs the window needs, ceil_mode's extra cells included."""
    a, sizes = node.attrs, b.in_shape(node)[:-1]
    if a.padding == "same" and not any(d > 1 for d in dilation):
        return "same"
    pairs = resolve_padding(a.padding, sizes, size, stride, dilation)
    window = tuple(d * (f - 1) + 1 for f, d in zip(size, dilation))
    if a.ceil:  # PyTorch's ceil_mode: the last window may run past the end
        pairs = tuple(
            (pb, pa + max(0, (o - 1) * s + f - (n + pb + pa)))
            for (pb, pa), n, o, f, s in zip(pairs, sizes, node.shape[:-1], window, stride)
        )
    if any(d > 1 for d in dilation):
        return pairs
    if not any(p for pair in pairs for p in pair):
        return "valid"
    if pairs == same_pad_pairs(sizes, size, stride, (1,) * len(sizes)):
        return "same"  # TF's `same` pools ignore the padded cells, as the IR asks
    return pairs


@emits("maxpool", "avgpool")
def emit_pool(b: Builder, node: Node) -> str:
    a, rank = node.attrs, _rank(b, node)
    size = per_dim(a.size, rank, "size")
    stride = per_dim(a.stride or a.size, rank, "stride")
    if node.op.name == "avgpool" and a.count_include_pad:
        return _counted_avg_pool(b, node, size, stride)
    dilation = per_dim(a.dilation, rank, "dilation")
    pads = _pool_pads(b, node, size, stride, dilation)
    mode = "max" if node.op.name == "maxpool" else "avg"
    if any(d > 1 for d in dilation):  # Keras' pooling layers have no dilation
        args = [literal(mode), inline(size), inline(stride), inline(dilation), inline(pads)]
        return b.layer(node, b.use("DilatedPool"), args, b.input(node))
    if isinstance(pads, tuple):
        cls = b.use("PaddedMaxPool" if mode == "max" else "PaddedAvgPool")
        return b.layer(node, cls, [inline(size), inline(stride), inline(pads)], b.input(node))
    kind = "MaxPooling" if mode == "max" else "AveragePooling"
    args = [inline(a.size)] + ([f"strides={inline(a.stride)}"] if a.stride not in (None, a.size) else [])
    args += [f"padding={literal(pads)}"] if pads != "valid" else []
    return b.layer(node, f"layers.{kind}{rank}D", args, b.input(node))


def _counted_avg_pool(b: Builder, node: Node, size: tuple, stride: tuple) -> str:
    """`count_include_pad=true` (PyTorch's default): the padding as a ZeroPadding layer, then a valid
    pool, whose average counts those zeros; ceil mode's cells past the padding are not counted."""
    a, rank, in_shape = node.attrs, len(size), b.in_shape(node)
    pairs = window_geometry(node, in_shape)[3]
    x = b.input(node)
    if any(p for pair in pairs for p in pair):
        x = b.aux(node, "pad", f"layers.ZeroPadding{rank}D", [inline(_pad_spec(pairs))], x)
    overhang = tuple(
        (0, max(0, (o - 1) * s + f - (n + pb + pa)))
        for (pb, pa), n, o, f, s in zip(pairs, in_shape[:-1], node.shape[:-1], size, stride)
    )
    if any(after for _, after in overhang):
        return b.layer(node, b.use("PaddedAvgPool"), [inline(size), inline(stride), inline(overhang)], x)
    args = [inline(a.size)] + ([f"strides={inline(a.stride)}"] if a.stride not in (None, a.size) else [])
    return b.layer(node, f"layers.AveragePooling{rank}D", args, x)


@emits("global_maxpool", "global_avgpool")
def emit_global_pool(b: Builder, node: Node) -> str:
    kind = "GlobalMaxPooling" if node.op.name == "global_maxpool" else "GlobalAveragePooling"
    args = ["keepdims=True"] if node.attrs.keepdims else []
    return b.layer(node, f"layers.{kind}{_rank(b, node)}D", args, b.input(node))


@emits("adaptive_avgpool")
def emit_adaptive(b: Builder, node: Node) -> str:
    # Keras' AdaptiveAveragePooling uses PyTorch's bins: [floor(i n / o), ceil((i + 1) n / o))
    return b.layer(node, f"layers.AdaptiveAveragePooling{_rank(b, node)}D", [b.attr(node, "size")], b.input(node))


@emits("upsample")
def emit_upsample(b: Builder, node: Node) -> str:
    rank = _rank(b, node)
    scale = tuple(int(s) for s in per_dim(node.attrs.scale, rank, "scale"))  # 2.0 is 2
    args = [inline(scale[0] if len(set(scale)) == 1 else scale)]
    if node.attrs.mode == "bilinear":  # half-pixel centres: PyTorch's align_corners=False
        args.append('interpolation="bilinear"')
    return b.layer(node, f"layers.UpSampling{rank}D", args, b.input(node))


# --- normalisation, regularisation, reshaping ---------------------------------------


@emits("batchnorm")
def emit_batchnorm(b: Builder, node: Node) -> str:
    a = node.attrs
    param = b.bound(node, "momentum")  # Keras keeps 1 - PyTorch's momentum
    momentum = f"1 - {param}" if param else inline(float(f"{1 - a.momentum:.12g}"))
    args = [f"momentum={momentum}", f"epsilon={b.attr(node, 'epsilon')}"]
    args += _opt(b, node, "center", "center", True) + _opt(b, node, "scale", "scale", True)
    return b.layer(node, "layers.BatchNormalization", args, b.input(node))


@emits("lrn")
def emit_lrn(b: Builder, node: Node) -> str:
    args = [b.attr(node, "size")] + [f"{k}={b.attr(node, k)}" for k in ("alpha", "beta", "k")]
    return b.layer(node, b.use("LocalResponseNorm"), args, b.input(node))


@emits("dropout")
def emit_dropout(b: Builder, node: Node) -> str:
    return b.layer(node, "layers.Dropout", [b.attr(node, "rate")], b.input(node))


@emits("zeropad", "crop")
def emit_pad(b: Builder, node: Node) -> str:
    rank = _rank(b, node)
    key, kind = ("padding", "ZeroPadding") if node.op.name == "zeropad" else ("cropping", "Cropping")
    pairs = pad_pairs(getattr(node.attrs, key), rank, key)
    return b.layer(node, f"layers.{kind}{rank}D", [inline(_pad_spec(pairs))], b.input(node))


@emits("flatten")
def emit_flatten(b: Builder, node: Node) -> str:
    if len(node.shape) > 1:  # flatten(k) keeping axes: channels-last, so a plain Reshape
        return b.layer(node, "layers.Reshape", [inline(tuple(node.shape))], b.input(node))
    return b.layer(node, "layers.Flatten", [], b.input(node))


@emits("reshape")
def emit_reshape(b: Builder, node: Node) -> str:
    return b.layer(node, "layers.Reshape", [inline(tuple(node.shape))], b.input(node))


@emits("dense")
def emit_dense(b: Builder, node: Node) -> str:
    args = [b.attr(node, "units"), *_opt(b, node, "use_bias", "bias", True)]
    return b.layer(node, "layers.Dense", args, b.input(node))


# --- activations -----------------------------------------------------------------

# Keras' own activations that are PyTorch's exactly (gelu: erf form; hard_*: relu6(x + 3) / 6).
ACTIVATIONS = {
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "swish": "silu",
    "hard_swish": "hard_swish",
    "hard_sigmoid": "hard_sigmoid",
    "gelu": "gelu",
}


@emits(*ACTIVATIONS)
def emit_activation(b: Builder, node: Node) -> str:
    return b.layer(node, "layers.Activation", [literal(ACTIVATIONS[node.op.name])], b.input(node))


@emits("relu", "relu6")
def emit_relu(b: Builder, node: Node) -> str:
    return b.layer(node, "layers.ReLU", ["6.0"] if node.op.name == "relu6" else [], b.input(node))


@emits("leaky_relu")
def emit_leaky_relu(b: Builder, node: Node) -> str:
    return b.layer(node, "layers.LeakyReLU", [f"negative_slope={b.attr(node, 'alpha')}"], b.input(node))


@emits("elu")
def emit_elu(b: Builder, node: Node) -> str:
    return b.layer(node, "layers.ELU", _opt(b, node, "alpha", "alpha", 1.0), b.input(node))


def _keras_axis(axis: int) -> int:
    """An IR axis (no batch) as a Keras axis (batch first)."""
    return axis if axis < 0 else axis + 1


@emits("scale")
def emit_scale(b: Builder, node: Node) -> str:
    """Keras' Rescaling computes `x * scale + 0.0`: exactly x * factor, and a built-in layer saves as .keras."""
    return b.layer(node, "layers.Rescaling", [b.attr(node, "factor")], b.input(node))


@emits("softmax")
def emit_softmax(b: Builder, node: Node) -> str:
    axis = _keras_axis(node.attrs.axis)
    return b.layer(node, "layers.Softmax", [] if axis == -1 else [f"axis={axis}"], b.input(node))


@emits("maxout")
def emit_maxout(b: Builder, node: Node) -> str:
    return b.layer(node, b.use("Maxout"), [b.attr(node, "pieces")], b.input(node))


@emits("identity")
def emit_identity(b: Builder, node: Node) -> str:
    return b.layer(node, "layers.Identity", [], b.input(node))


# --- merges and inputs ---------------------------------------------------------------


@emits("add")
def emit_add(b: Builder, node: Node) -> str:
    return b.layer(node, "layers.Add", [], list_of(*b.inputs(node)))


@emits("multiply")
def emit_multiply(b: Builder, node: Node) -> str:
    xs = b.inputs(node)
    for i, source in enumerate(b.graph.input_ids(node.id)):
        shape = b.graph.node(source).shape
        if len(shape) < len(node.shape):  # align on the trailing axes as the IR broadcasts (c -> 1x1xc)
            full = (1,) * (len(node.shape) - len(shape)) + tuple(shape)
            xs[i] = b.aux(node, f"expand{i}", "layers.Reshape", [inline(full)], xs[i])
    return b.layer(node, "layers.Multiply", [], list_of(*xs))


@emits("concat")
def emit_concat(b: Builder, node: Node) -> str:
    axis = _keras_axis(node.attrs.axis)
    args = [] if axis == -1 else [f"axis={axis}"]
    return b.layer(node, "layers.Concatenate", args, list_of(*b.inputs(node)))


@emits("input")
def emit_input(b: Builder, node: Node) -> str:
    target = b.body.assign(node.id)
    shape = literal(tuple(node.shape))
    b.out.statement(f"{target} = ", call("keras.Input", shape=shape, name=b.body.name_expr(layer_name(node.id))))
    return target
