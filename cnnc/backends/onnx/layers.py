"""ONNX emitters for the ops that do not slide a window: resizing, norms, reshapes, dense,
activations and merges.  Each follows the PyTorch model's computation (cnnc/backends/torch/layers.py)."""

from __future__ import annotations

import numpy as np

from cnnc.backends.common import channels_first, channels_first_axis
from cnnc.backends.onnx.site import Site, emits
from cnnc.backends.onnx.windows import onnx_pads
from cnnc.ir.shape_math import pad_pairs

# --- resizing ----------------------------------------------------------------------------


@emits("upsample")
def emit_upsample(site: Site) -> str:
    """F.interpolate: nearest reads floor(i / s); bilinear (align_corners=False) samples at PyTorch's
    half-pixel centres."""
    sizes = site.ints(channels_first(site.node.shape)[1:], "sizes")  # n * scale: the same sampling as the scale
    if site.attrs.mode == "bilinear":
        mode = {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}
    else:
        mode = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    # Sizes of the spatial axes alone, so the batch dimension stays symbolic in shape inference.
    return site.op("Resize", [site.x, "", "", sizes], axes=list(range(2, 2 + site.rank)), **mode)


# --- normalisation and regularisation ----------------------------------------------------


@emits("batchnorm")
def emit_batchnorm(site: Site) -> str:
    """Inference: the running statistics; a missing scale or shift is a constant 1 or 0."""
    attrs, c = site.attrs, site.channels
    scale = site.weight("weight") if attrs.scale else site.constant(np.ones(c, np.float32), "ones")
    shift = site.weight("bias") if attrs.center else site.constant(np.zeros(c, np.float32), "zeros")
    inputs = [site.x, scale, shift, site.weight("running_mean"), site.weight("running_var")]
    return site.op("BatchNormalization", inputs, epsilon=attrs.epsilon)


@emits("lrn")
def emit_lrn(site: Site) -> str:
    """x / (k + alpha / size * sum of x^2 over `size` channels)^beta.  PyTorch's window reaches size // 2
    channels back, ONNX's LRN (size - 1) // 2, the same for odd sizes; ONNX Runtime's LRN takes 4D
    input only.  Elsewhere the formula is built: the squares padded on the channel axis, summed
    over `size` shifted slices."""
    attrs = site.attrs
    if attrs.size % 2 and site.rank == 2:
        return site.op("LRN", [site.x], size=attrs.size, alpha=attrs.alpha, beta=attrs.beta, bias=attrs.k)
    c, dims = site.channels, 2 + site.rank
    before, after = attrs.size // 2, (attrs.size - 1) // 2
    squares = site.op("Mul", [site.x, site.x])
    padded = site.op(
        "Pad", [squares, site.ints([0, before] + [0] * (dims - 2) + [0, after] + [0] * (dims - 2), "pads")]
    )
    axis = site.ints([1], "axis")
    windows = [
        site.op("Slice", [padded, site.ints([i], "start"), site.ints([i + c], "end"), axis]) for i in range(attrs.size)
    ]
    total = site.op("Sum", windows) if len(windows) > 1 else windows[0]
    scaled = site.op(
        "Add", [site.op("Mul", [total, _scalar(site, attrs.alpha / attrs.size, "alpha")]), _scalar(site, attrs.k, "k")]
    )
    return site.op("Div", [site.x, site.op("Pow", [scaled, _scalar(site, attrs.beta, "beta")])])


def _scalar(site: Site, value: float, what: str) -> str:
    return site.constant(np.array(value, np.float32), what)


@emits("dropout", "identity")
def emit_identity(site: Site) -> str:
    """Dropout does nothing at inference, the only mode an exported model runs in."""
    return site.op("Identity", [site.x])


# --- reshaping ---------------------------------------------------------------------------


@emits("zeropad")
def emit_zeropad(site: Site) -> str:
    pairs = pad_pairs(site.attrs.padding, site.rank)
    return site.op("Pad", [site.x, site.ints(onnx_pads(((0, 0), (0, 0), *pairs)), "pads")])


@emits("crop")
def emit_crop(site: Site) -> str:
    pairs = pad_pairs(site.attrs.cropping, site.rank, "cropping")
    starts = [before for before, _ in pairs]
    ends = [n - after for (_, after), n in zip(pairs, site.shape[:-1])]
    axes = list(range(2, 2 + site.rank))
    return site.op("Slice", [site.x, site.ints(starts, "starts"), site.ints(ends, "ends"), site.ints(axes, "axes")])


@emits("flatten")
def emit_flatten(site: Site) -> str:
    """C, H, W order, as PyTorch's flatten; flatten(k) keeping axes is a reshape between two maps."""
    if len(site.node.shape) > 1:
        return emit_reshape(site)
    return site.op("Flatten", [site.x], axis=1)


@emits("reshape")
def emit_reshape(site: Site) -> str:
    """To or from a flat vector in PyTorch's (channels-first) order; between two maps the IR's
    channels-last order is the meaning, so the channels move last for the reshape and back."""
    target = site.node.shape
    if site.rank and len(target) > 1:
        last = site.op("Transpose", [site.x], perm=[0, *range(2, 2 + site.rank), 1])
        shaped = site.op("Reshape", [last, site.ints([0, *target], "shape")])
        return site.op("Transpose", [shaped], perm=[0, len(target), *range(1, len(target))])
    return site.op("Reshape", [site.x, site.ints([0, *channels_first(target)], "shape")])


@emits("dense")
def emit_dense(site: Site) -> str:
    inputs = [site.x, site.weight("weight")] + ([site.weight("bias")] if site.attrs.bias else [])
    return site.op("Gemm", inputs, transB=1)


# --- activations -------------------------------------------------------------------------

# op -> (ONNX op, its attributes): the same function as the PyTorch model's.
ACTIVATIONS: dict[str, tuple[str, dict]] = {
    "relu": ("Relu", {}),
    "sigmoid": ("Sigmoid", {}),
    "tanh": ("Tanh", {}),
    "swish": ("Swish", {}),
    "hard_swish": ("HardSwish", {}),
    "hard_sigmoid": ("HardSigmoid", {"alpha": 1 / 6, "beta": 0.5}),  # PyTorch's: relu6(x + 3) / 6
    "gelu": ("Gelu", {}),  # the exact (erf) form, PyTorch's default
}


@emits(*ACTIVATIONS)
def emit_activation(site: Site) -> str:
    kind, attrs = ACTIVATIONS[site.node.op.name]
    return site.op(kind, [site.x], **attrs)


@emits("relu6")
def emit_relu6(site: Site) -> str:
    return site.op("Clip", [site.x, _scalar(site, 0.0, "min"), _scalar(site, 6.0, "max")])


@emits("leaky_relu", "elu")
def emit_parametric_activation(site: Site) -> str:
    kind = "LeakyRelu" if site.node.op.name == "leaky_relu" else "Elu"
    return site.op(kind, [site.x], alpha=site.attrs.alpha)


@emits("softmax")
def emit_softmax(site: Site) -> str:
    return site.op("Softmax", [site.x], axis=channels_first_axis(site.attrs.axis, len(site.shape)))


@emits("scale")
def emit_scale(site: Site) -> str:
    return site.op("Mul", [site.x, _scalar(site, site.attrs.factor, "factor")])


@emits("maxout")
def emit_maxout(site: Site) -> str:
    """The max over groups of `pieces` consecutive channels."""
    pieces, spatial = site.attrs.pieces, list(site.shape[:-1])
    grouped = site.op("Reshape", [site.x, site.ints([0, site.channels // pieces, pieces, *spatial], "groups")])
    return site.op("ReduceMax", [grouped, site.ints([2], "axes")], keepdims=0)


# --- merges ------------------------------------------------------------------------------


@emits("add")
def emit_add(site: Site) -> str:
    return site.op("Sum", list(site.args)) if len(site.args) > 2 else site.op("Add", list(site.args))


@emits("multiply")
def emit_multiply(site: Site) -> str:
    """Elementwise product; an operand of lower rank is lined up channels-first, as the IR broadcasts it
    and the PyTorch model writes it (`w[:, :, None, None]`)."""
    rank = len(site.node.shape)
    terms = []
    for arg, shape in zip(site.args, site.in_shapes):
        missing = rank - len(shape)
        if missing and rank > 1:
            arg = site.op("Unsqueeze", [arg, site.ints(range(len(shape) + 1, rank + 1), "axes")])
        terms.append(arg)
    product = terms[0]
    for term in terms[1:]:
        product = site.op("Mul", [product, term])
    return product


@emits("concat")
def emit_concat(site: Site) -> str:
    return site.op("Concat", list(site.args), axis=channels_first_axis(site.attrs.axis, len(site.shape)))
