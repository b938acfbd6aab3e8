"""Emitters for the ops that do not slide a window: norms, reshapes, dense, activations, merges."""

from __future__ import annotations

from cnnc.backends.common import channels_first, channels_first_axis
from cnnc.backends.pysource import Expr, call, flat, literal, tuple_of
from cnnc.backends.torch.site import FRESH, INPUT, VIEW, Emit, Site, emits, size_literal
from cnnc.backends.torch.windows import padded
from cnnc.ir.shape_math import pad_pairs, per_dim

# --- pooling over everything, to a size, and upsampling: no window, no padding ---------


def _spatial_dims(site: Site) -> Expr:
    dims = tuple(range(2, 2 + site.rank))
    return literal(dims[0]) if len(dims) == 1 else literal(dims)


@emits("global_avgpool", output=FRESH)  # mean; amax keeps its output for the backward pass
@emits("global_maxpool")
def emit_global_pool(site: Site) -> Emit:
    method = "mean" if site.node.op.name == "global_avgpool" else "amax"
    keep = "True" if site.attrs.keepdims else None
    return Emit(call(f"{site.x}.{method}", _spatial_dims(site), keepdim=keep))


@emits("adaptive_avgpool", output=FRESH)
def emit_adaptive_pool(site: Site) -> Emit:
    size = per_dim(site.attrs.size, site.rank, "size")
    return Emit(call(f"F.adaptive_avg_pool{site.rank}d", site.x, size_literal(size)))


@emits("upsample", output=FRESH)
def emit_upsample(site: Site) -> Emit:
    scale = size_literal(tuple(int(s) for s in per_dim(site.attrs.scale, site.rank, "scale")))  # 2.0 is 2
    if site.attrs.mode == "bilinear":
        return Emit(call("F.interpolate", site.x, scale_factor=scale, mode='"bilinear"', align_corners="False"))
    return Emit(call("F.interpolate", site.x, scale_factor=scale))


# --- normalisation and regularisation ----------------------------------------------


@emits("batchnorm", output=FRESH)
def emit_batchnorm(site: Site) -> Emit:
    attrs, c = site.attrs, site.width()
    cls = f"nn.BatchNorm{max(site.rank, 1)}d"
    both = attrs.scale and attrs.center
    module = call(
        cls,
        c,
        eps=site.option("epsilon", 1e-5),
        momentum=site.option("momentum", 0.1),
        affine=None if both else "False",
    )
    forward = call(site.module, site.x)
    if site.node.frozen:
        # A frozen batch norm normalises with its stored statistics and never updates them, in
        # training too, as Keras runs a layer with trainable=False.
        m = site.module
        forward = call(
            "F.batch_norm",
            site.x,
            f"{m}.running_mean",
            f"{m}.running_var",
            f"{m}.weight",
            f"{m}.bias",
            training="False",
            eps=f"{m}.eps",
        )
    emit = Emit(forward, module)
    # PyTorch's affine is both or neither; a lone scale or shift is added as the parameter it reads.
    if attrs.scale and not both:
        emit.setup.append((0, f"{site.module}.weight = ", call("nn.Parameter", call("torch.ones", c))))
    if attrs.center and not both:
        emit.setup.append((0, f"{site.module}.bias = ", call("nn.Parameter", call("torch.zeros", c))))
    return emit


@emits("lrn")
def emit_lrn(site: Site) -> Emit:
    options = {"alpha": site.value("alpha"), "beta": site.value("beta"), "k": site.value("k")}
    x = site.x if site.rank else f"{site.x}[:, :, None]"  # LRN wants a spatial axis
    if site.bound:
        emit = Emit(call(site.module, x), call("nn.LocalResponseNorm", site.value("size"), **options))
    else:
        emit = Emit(call("F.local_response_norm", x, site.value("size"), **options))
    if not site.rank:
        emit.then = ("{}[:, :, 0]",)
    return emit


@emits("dropout", output=VIEW)
def emit_dropout(site: Site) -> Emit:
    if site.bound:
        return Emit(call(site.module, site.x), call("nn.Dropout", site.value("rate")))
    return Emit(call("F.dropout", site.x, p=site.value("rate"), training="self.training"))


# --- reshaping -------------------------------------------------------------------------


@emits("zeropad", output=FRESH)
def emit_zeropad(site: Site) -> Emit:
    return Emit(padded(site.x, pad_pairs(site.attrs.padding, site.rank)))


@emits("crop", output=VIEW)
def emit_crop(site: Site) -> Emit:
    pairs = pad_pairs(site.attrs.cropping, site.rank, "cropping")
    spans = ", ".join(f"{before}:{n - after}" for (before, after), n in zip(pairs, site.shape[:-1]))
    return Emit(f"{site.x}[:, :, {spans}]")


@emits("flatten", output=VIEW)
def emit_flatten(site: Site) -> Emit:
    if len(site.node.shape) > 1:  # flatten(k) keeping axes: a reshape between two maps
        return emit_reshape(site)
    return Emit(call(f"{site.x}.flatten", "1"))


@emits("reshape", output=VIEW)
def emit_reshape(site: Site) -> Emit:
    """To or from a flat vector: PyTorch's own (channels-first) order, as `flatten` is
    (weight conversion reorders the dense layer next to it).  Between two maps the
    IR's channels-last order is the meaning, which no weight order can stand in for,
    so the channels move last for the reshape and back after it."""
    if site.rank and len(site.node.shape) > 1:
        dims = ", ".join(literal(d) for d in site.node.shape)
        return Emit(f"{site.x}.movedim(1, -1).reshape(-1, {dims}).movedim(-1, 1)")
    return Emit(call(f"{site.x}.reshape", "-1", *(literal(d) for d in channels_first(site.node.shape))))


@emits("dense", output=FRESH)
def emit_dense(site: Site) -> Emit:
    # A constructor argument may set the width: dense(k) -> dense(k).
    module = call("nn.Linear", site.width(), site.value("units"), bias=site.option("bias", True))
    return Emit(call(site.module, site.x), module)


# --- activations -------------------------------------------------------------------------

# op -> (function, its in-place form).  Every activation with an in-place form uses it when
# nothing else reads its input (lifetimes.py), as torchvision's `nn.ReLU(inplace=True)` and
# `nn.SiLU(inplace=True)` do: `inplace=True` where the function takes it, else the trailing-underscore
# function.  Autograd's in-place formulas give the same gradients (tests/test_backend_torch.py).
INPLACE = "inplace=True"
ACTIVATIONS: dict[str, tuple[str, str | None]] = {
    "relu": ("F.relu", INPLACE),
    "relu6": ("F.relu6", INPLACE),
    "sigmoid": ("torch.sigmoid", "torch.sigmoid_"),
    "tanh": ("torch.tanh", "torch.tanh_"),
    "swish": ("F.silu", INPLACE),
    "hard_swish": ("F.hardswish", INPLACE),
    "hard_sigmoid": ("F.hardsigmoid", INPLACE),
    "gelu": ("F.gelu", None),
}


@emits(*ACTIVATIONS)
def emit_activation(site: Site) -> Emit:
    fn, inplace = ACTIVATIONS[site.node.op.name]
    if inplace is None or site.inplace != 0:
        return Emit(call(fn, site.x))
    if inplace == INPLACE:
        return Emit(call(fn, site.x, inplace="True"), inplace=True)
    return Emit(call(inplace, site.x), inplace=True)


@emits("leaky_relu", "elu")
def emit_parametric_activation(site: Site) -> Emit:
    """In place only for a fixed positive alpha: the in-place backward reads the output, which a
    negative slope would not let it invert (PyTorch refuses it)."""
    name = site.node.op.name
    if site.bound:
        cls = "nn.LeakyReLU" if name == "leaky_relu" else "nn.ELU"
        return Emit(call(site.module, site.x), call(cls, site.value("alpha")))
    if site.inplace == 0 and site.attrs.alpha > 0:
        return Emit(call(f"F.{name}", site.x, site.value("alpha"), inplace="True"), inplace=True)
    return Emit(call(f"F.{name}", site.x, site.value("alpha")))


@emits("scale", output=FRESH)
def emit_scale(site: Site) -> Emit:
    """`x * factor`; a factor from a constructor argument is kept on the module for forward to read."""
    if site.bound:
        return Emit(f"{site.x} * {site.module}", site.value("factor"))
    if site.inplace == 0:
        return Emit(site.value("factor"), inplace=True, augmented="*")
    return Emit(f"{site.x} * {site.value('factor')}")


@emits("softmax")
def emit_softmax(site: Site) -> Emit:
    return Emit(call("torch.softmax", site.x, literal(channels_first_axis(site.attrs.axis, len(site.shape)))))


@emits("maxout")
def emit_maxout(site: Site) -> Emit:
    """The max over groups of `pieces` consecutive channels."""
    pieces = site.attrs.pieces
    groups = flat(tuple_of(literal(site.channels // pieces), literal(pieces)))
    return Emit(call(f"{site.x}.unflatten(1, {groups}).amax", "2"))


@emits("identity", output=INPUT)
def emit_identity(site: Site) -> Emit:
    return Emit(None)


# --- merges ------------------------------------------------------------------------------


@emits("add", output=FRESH)
def emit_add(site: Site) -> Emit:
    if site.inplace is not None and len(site.args) == 2:
        other = site.args[1 - site.inplace]
        return Emit(other, inplace=True, augmented="+")
    return Emit(" + ".join(site.args))


@emits("multiply", output=FRESH)
def emit_multiply(site: Site) -> Emit:
    """Elementwise product; an operand of lower rank is lined up channels-first, as the IR broadcasts it."""
    rank = len(site.node.shape)
    terms = []
    for arg, shape in zip(site.args, site.in_shapes):
        missing = rank - len(shape)
        terms.append(f"{arg}[:, :{', None' * missing}]" if missing and rank > 1 else arg)
    return Emit(" * ".join(terms))


@emits("concat", output=FRESH)
def emit_concat(site: Site) -> Emit:
    dim = channels_first_axis(site.attrs.axis, len(site.shape))
    return Emit(call("torch.cat", tuple_of(*site.args), literal(dim)))
