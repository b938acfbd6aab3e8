"""One emitter per op: what a node becomes in `__init__` and in `forward`.

`EMITTERS` maps an op name to a small function from a `Site` (the node, its
input shapes and variables) to an `Emit` (a submodule constructor, if the op
has weights or settings, and the forward expression).  Families share one
function where PyTorch treats them alike.  Shapes in the IR are channels-last;
everything here writes channels-first (NCHW) PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cnnc.backends.common import (
    Pairs,
    channels_first,
    channels_first_axis,
    symmetric,
    uniform,
    window_geometry,
)
from cnnc.backends.pysource import Expr, call, dict_of, flat, list_of, literal, tuple_of
from cnnc.ir.graph import Node
from cnnc.ir.ops import constant_kernel
from cnnc.ir.shape_math import Shape, pad_pairs, per_dim

# Module-level helper functions an expression may call; written into the model only when used.
AVG_POOL_HELPER = "avg_pool_uncounted"
HELPERS: dict[str, list[str]] = {
    AVG_POOL_HELPER: [
        "def avg_pool_uncounted(x: torch.Tensor, pad: tuple[int, ...], size: int, stride: int) -> torch.Tensor:",
        '    """Average pooling over `F.pad(x, pad)` that does not count the padded cells."""',
        "    pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[x.dim() - 3]",
        "    count = pool(F.pad(torch.ones_like(x[:1, :1]), pad), size, stride)",
        "    return pool(F.pad(x, pad), size, stride) / count",
    ],
}


@dataclass
class Site:
    """What an emitter knows about one node."""

    node: Node
    in_shapes: list[Shape]
    args: list[str]  # the forward variables holding the inputs, in order
    resolve_module: Callable[[], str]  # `self.name` of the submodule (the owner's, for a shared node)
    bound: dict[str, str] = field(default_factory=dict)  # attribute -> constructor argument
    inplace: int | None = None  # an input the op may overwrite (it is dead afterwards and safe to modify)
    shared: bool = False  # the weights serve several nodes, maybe at different input sizes

    @property
    def attrs(self):
        return self.node.attrs

    @property
    def module(self) -> str:
        """Asked for only by ops with a submodule, so only those take a name."""
        return self.resolve_module()

    @property
    def x(self) -> str:
        return self.args[0]

    @property
    def shape(self) -> Shape:
        return self.in_shapes[0]

    @property
    def rank(self) -> int:
        """Spatial rank of the first input: 0 for a flat vector."""
        return len(self.shape) - 1

    @property
    def channels(self) -> int:
        return self.shape[-1]

    def value(self, attr: str) -> Expr:
        """An attribute as source: the constructor argument it is bound to, or its literal value."""
        return self.bound.get(attr) or literal(getattr(self.attrs, attr))

    def option(self, attr: str, default: object) -> Expr | None:
        """A keyword argument's value, or None (leave it out) when it is the framework default and unbound."""
        if attr not in self.bound and getattr(self.attrs, attr) == default:
            return None
        return self.value(attr)


@dataclass
class Emit:
    """A node's code: `forward` is None for a node that is its input (identity)."""

    forward: Expr | None
    module: Expr | None = None  # constructor assigned to `self.name`
    setup: list[tuple[int, str, Expr | None]] = field(default_factory=list)  # (depth, lead, expr) in __init__
    inplace: bool = False  # the expression overwrote `site.args[site.inplace]`
    augmented: str | None = None  # write `args[inplace] <op>= forward` (e.g. "+")
    then: tuple[str, ...] = ()  # follow-up statements on the value: "{}[:, :, :-1]"
    helpers: tuple[str, ...] = ()


Emitter = Callable[[Site], Emit]
EMITTERS: dict[str, Emitter] = {}


def emits(*ops: str) -> Callable[[Emitter], Emitter]:
    def register(fn: Emitter) -> Emitter:
        for op in ops:
            assert op not in EMITTERS, op
            EMITTERS[op] = fn
        return fn

    return register


# --- shared pieces -------------------------------------------------------------


def _size(values: tuple) -> Expr:
    return literal(uniform(values))


def _torch_pad(pairs: Pairs) -> tuple[int, ...]:
    """(before, after) pairs per spatial axis in F.pad's order: last axis first."""
    return tuple(v for before, after in reversed(pairs) for v in (before, after))


def _padded(x: Expr, pairs: Pairs, value: str | None = None) -> Expr:
    if all(p == (0, 0) for p in pairs):
        return x
    return call("F.pad", x, literal(_torch_pad(pairs)), value=value)


def _native_or_explicit(site: Site, pairs: Pairs) -> tuple[int | tuple, Pairs]:
    """(padding for the layer itself, padding to apply with F.pad first).

    PyTorch layers pad symmetrically; TensorFlow's `same` with stride > 1 (or an
    even kernel) pads one pixel more at the end, which takes an explicit F.pad.
    A shared layer may see several input sizes, so its `same` padding is always explicit.
    """
    shape_dependent = site.attrs.padding == "same" and site.shared
    if symmetric(pairs) and not shape_dependent:
        return uniform(tuple(before for before, _ in pairs)), ((0, 0),) * len(pairs)
    return 0, pairs


def _conv_class(rank: int, transposed: bool = False) -> str:
    return f"nn.ConvTranspose{rank}d" if transposed else f"nn.Conv{rank}d"


def _conv_options(site: Site, stride: tuple, padding: int | tuple, dilation: tuple) -> dict[str, Expr | None]:
    return {
        "stride": _size(stride) if any(s != 1 for s in stride) else None,
        "padding": literal(padding) if padding != 0 else None,
        "dilation": _size(dilation) if any(d != 1 for d in dilation) else None,
    }


# --- convolutions ----------------------------------------------------------------


@emits("conv")
def emit_conv(site: Site) -> Emit:
    kernel, stride, dilation, pairs = window_geometry(site.node, site.shape)
    native, explicit = _native_or_explicit(site, pairs)
    groups = site.attrs.groups
    module = call(_conv_class(site.rank), literal(site.channels), site.value("filters"), _size(kernel),
                  **_conv_options(site, stride, native, dilation),
                  groups=literal(groups) if groups != 1 else None, bias=site.option("bias", True))
    emit = Emit(call(site.module, _padded(site.x, explicit)), module)
    if site.attrs.weights is not None:
        emit.setup = _constant_kernel(site)
    return emit


def _constant_kernel(site: Site) -> list[tuple[int, str, Expr | None]]:
    """Every (out, in) pair of the conv gets the fixed 2D kernel; the bias starts at zero."""
    matrix = constant_kernel(site.attrs)
    rows = list_of(*(list_of(*(literal(float(v)) for v in row)) for row in matrix))
    setup: list[tuple[int, str, Expr | None]] = []
    if isinstance(site.attrs.weights, str):
        setup.append((0, f"# constant {site.attrs.weights} kernel", None))
    setup.append((0, "with torch.no_grad():", None))
    setup.append((1, "", call(f"{site.module}.weight.copy_", call("torch.tensor", rows))))
    if site.attrs.bias:
        setup.append((1, "", call(f"{site.module}.bias.zero_")))
    return setup


@emits("depthwise")
def emit_depthwise(site: Site) -> Emit:
    kernel, stride, dilation, pairs = window_geometry(site.node, site.shape)
    native, explicit = _native_or_explicit(site, pairs)
    c = site.channels
    module = call(_conv_class(site.rank), literal(c), literal(c * site.attrs.multiplier), _size(kernel),
                  **_conv_options(site, stride, native, dilation), groups=literal(c),
                  bias=site.option("bias", True))
    return Emit(call(site.module, _padded(site.x, explicit)), module)


@emits("separable")
def emit_separable(site: Site) -> Emit:
    """Depthwise (no bias) then pointwise (with the bias), as one ModuleDict so the weights stay together."""
    kernel, stride, dilation, pairs = window_geometry(site.node, site.shape)
    native, explicit = _native_or_explicit(site, pairs)
    c, mid, cls = site.channels, site.channels * site.attrs.multiplier, _conv_class(site.rank)
    depthwise = call(cls, literal(c), literal(mid), _size(kernel), **_conv_options(site, stride, native, dilation),
                     groups=literal(c), bias="False")
    pointwise = call(cls, literal(mid), site.value("filters"), "1", bias=site.option("bias", True))
    module = call("nn.ModuleDict", dict_of([('"depthwise"', depthwise), ('"pointwise"', pointwise)]))
    inner = call(f"{site.module}.depthwise", _padded(site.x, explicit))
    return Emit(call(f"{site.module}.pointwise", inner), module)


@emits("pointwise")
def emit_pointwise(site: Site) -> Emit:
    module = call(_conv_class(site.rank), literal(site.channels), site.value("filters"), "1",
                  bias=site.option("bias", True))
    return Emit(call(site.module, site.x), module)


@emits("conv_transpose")
def emit_conv_transpose(site: Site) -> Emit:
    attrs, rank = site.attrs, site.rank
    kernel, stride = per_dim(attrs.kernel, rank, "kernel"), per_dim(attrs.stride, rank, "stride")
    padding, extra, crop = _transpose_padding(attrs.padding, per_dim(attrs.output_padding, rank, "output_padding"),
                                              kernel, stride)
    module = call(_conv_class(rank, transposed=True), literal(site.channels), site.value("filters"), _size(kernel),
                  stride=_size(stride) if any(s != 1 for s in stride) else None,
                  padding=_size(padding) if any(padding) else None,
                  output_padding=_size(extra) if any(extra) else None, bias=site.option("bias", True))
    emit = Emit(call(site.module, site.x), module)
    if any(crop):
        slices = ", ".join(":-1" if c else ":" for c in crop)
        emit.then = ("{}[:, :, " + slices + "]",)
    return emit


def _transpose_padding(padding, output_padding: tuple, kernel: tuple, stride: tuple) -> tuple[tuple, tuple, tuple]:
    """(padding, output_padding, crop one at the end) per axis.

    `same` gives n * s, cropping the full output (n - 1) * s + k the way
    TensorFlow does: (k - s) // 2 at the start, the rest at the end.  PyTorch
    crops symmetrically, so an odd k - s leaves one more to crop at the end.
    """
    rank = len(kernel)
    if padding == "same":
        pads, extras, crops = [], [], []
        for k, s in zip(kernel, stride):
            total = k - s
            pads.append(max(total, 0) // 2)
            extras.append(max(-total, 0))
            crops.append(int(total > 0 and total % 2 == 1))
        return tuple(pads), tuple(extras), tuple(crops)
    pads = (0,) * rank if padding == "valid" else per_dim(padding, rank, "padding")
    return pads, output_padding, (0,) * rank


# --- pooling ---------------------------------------------------------------------


def _pool_size(n: int, k: int, s: int, p: int, ceil: bool) -> int:
    """PyTorch's pooling output size (its ceil-mode rule included)."""
    span = n + 2 * p - k
    size = (-(-span // s) if ceil else span // s) + 1
    if ceil and (size - 1) * s >= n + p:
        size -= 1
    return size


@emits("maxpool", "avgpool")
def emit_pool(site: Site) -> Emit:
    kernel, stride, _, pairs = window_geometry(site.node, site.shape)
    sizes, out = site.shape[:-1], site.node.shape[:-1]
    ceil = site.attrs.ceil and site.attrs.padding != "same"
    native = tuple(before for before, _ in pairs)
    fits = symmetric(pairs) and all(_pool_size(n, k, s, p, ceil) == o
                                    for n, k, s, p, o in zip(sizes, kernel, stride, native, out))
    is_max = site.node.op.name == "maxpool"
    fn = f"F.{'max' if is_max else 'avg'}_pool{site.rank}d"
    size, step = _size(kernel), (_size(stride) if stride != kernel else None)
    if fits:
        padded = any(native)
        return Emit(call(fn, site.x, size, stride=step, padding=_size(native) if padded else None,
                         ceil_mode="True" if ceil else None,
                         count_include_pad="False" if padded and not is_max else None))
    # Asymmetric (or ceil-mode) padding: pad explicitly, enough at the end for exactly `out` windows.
    explicit = tuple((b, max(0, (o - 1) * s + k - n - b)) for (b, _), n, k, s, o in zip(pairs, sizes, kernel,
                                                                                       stride, out))
    if is_max:
        return Emit(call(fn, _padded(site.x, explicit, value='float("-inf")'), size, stride=step))
    return Emit(call(AVG_POOL_HELPER, site.x, literal(_torch_pad(explicit)), size, _size(stride)),
                helpers=(AVG_POOL_HELPER,))


def _spatial_dims(site: Site) -> Expr:
    dims = tuple(range(2, 2 + site.rank))
    return literal(dims[0]) if len(dims) == 1 else literal(dims)


@emits("global_avgpool", "global_maxpool")
def emit_global_pool(site: Site) -> Emit:
    method = "mean" if site.node.op.name == "global_avgpool" else "amax"
    keep = "True" if site.attrs.keepdims else None
    return Emit(call(f"{site.x}.{method}", _spatial_dims(site), keepdim=keep))


@emits("adaptive_avgpool")
def emit_adaptive_pool(site: Site) -> Emit:
    size = per_dim(site.attrs.size, site.rank, "size")
    return Emit(call(f"F.adaptive_avg_pool{site.rank}d", site.x, _size(size)))


@emits("upsample")
def emit_upsample(site: Site) -> Emit:
    scale = _size(per_dim(site.attrs.scale, site.rank, "scale"))
    if site.attrs.mode == "bilinear":
        return Emit(call("F.interpolate", site.x, scale_factor=scale, mode='"bilinear"', align_corners="False"))
    return Emit(call("F.interpolate", site.x, scale_factor=scale))


# --- normalisation and regularisation ----------------------------------------------


@emits("batchnorm")
def emit_batchnorm(site: Site) -> Emit:
    attrs, c = site.attrs, site.channels
    cls = f"nn.BatchNorm{max(site.rank, 1)}d"
    both = attrs.scale and attrs.center
    module = call(cls, literal(c), eps=site.option("epsilon", 1e-5), momentum=site.option("momentum", 0.1),
                  affine=None if both else "False")
    emit = Emit(call(site.module, site.x), module)
    # PyTorch's affine is both or neither; a lone scale or shift is added as the parameter it reads.
    if attrs.scale and not both:
        emit.setup.append((0, f"{site.module}.weight = ", call("nn.Parameter", call("torch.ones", literal(c)))))
    if attrs.center and not both:
        emit.setup.append((0, f"{site.module}.bias = ", call("nn.Parameter", call("torch.zeros", literal(c)))))
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


@emits("dropout")
def emit_dropout(site: Site) -> Emit:
    if site.bound:
        return Emit(call(site.module, site.x), call("nn.Dropout", site.value("rate")))
    return Emit(call("F.dropout", site.x, site.value("rate"), "self.training"))


# --- reshaping -------------------------------------------------------------------------


@emits("zeropad")
def emit_zeropad(site: Site) -> Emit:
    return Emit(_padded(site.x, pad_pairs(site.attrs.padding, site.rank)))


@emits("crop")
def emit_crop(site: Site) -> Emit:
    pairs = pad_pairs(site.attrs.cropping, site.rank, "cropping")
    spans = ", ".join(f"{before}:{n - after}" for (before, after), n in zip(pairs, site.shape[:-1]))
    return Emit(f"{site.x}[:, :, {spans}]")


@emits("flatten")
def emit_flatten(site: Site) -> Emit:
    return Emit(call(f"{site.x}.flatten", "1"))


@emits("reshape")
def emit_reshape(site: Site) -> Emit:
    """Reshape in PyTorch's own (channels-first) order, as `flatten` is."""
    return Emit(call(f"{site.x}.reshape", "-1", *(literal(d) for d in channels_first(site.node.shape))))


@emits("dense")
def emit_dense(site: Site) -> Emit:
    module = call("nn.Linear", literal(site.channels), site.value("units"), bias=site.option("bias", True))
    return Emit(call(site.module, site.x), module)


# --- activations -------------------------------------------------------------------------

# op -> (function, may work in place).  In place only where the backward pass reads the
# output, not the input (relu, relu6), exactly as torchvision's nn.ReLU(inplace=True).
ACTIVATIONS: dict[str, tuple[str, bool]] = {
    "relu": ("F.relu", True),
    "relu6": ("F.relu6", True),
    "sigmoid": ("torch.sigmoid", False),
    "tanh": ("torch.tanh", False),
    "swish": ("F.silu", False),
    "hard_swish": ("F.hardswish", False),
    "hard_sigmoid": ("F.hardsigmoid", False),
    "gelu": ("F.gelu", False),
}


@emits(*ACTIVATIONS)
def emit_activation(site: Site) -> Emit:
    fn, can_inplace = ACTIVATIONS[site.node.op.name]
    if can_inplace and site.inplace == 0:
        return Emit(call(fn, site.x, inplace="True"), inplace=True)
    return Emit(call(fn, site.x))


@emits("leaky_relu", "elu")
def emit_parametric_activation(site: Site) -> Emit:
    name = site.node.op.name
    if site.bound:
        cls = "nn.LeakyReLU" if name == "leaky_relu" else "nn.ELU"
        return Emit(call(site.module, site.x), call(cls, site.value("alpha")))
    return Emit(call(f"F.{name}", site.x, site.value("alpha")))


@emits("softmax")
def emit_softmax(site: Site) -> Emit:
    return Emit(call("torch.softmax", site.x, literal(channels_first_axis(site.attrs.axis, len(site.shape)))))


@emits("maxout")
def emit_maxout(site: Site) -> Emit:
    """The max over groups of `pieces` consecutive channels."""
    pieces = site.attrs.pieces
    groups = flat(tuple_of(literal(site.channels // pieces), literal(pieces)))
    return Emit(call(f"{site.x}.unflatten(1, {groups}).amax", "2"))


@emits("identity")
def emit_identity(site: Site) -> Emit:
    return Emit(None)


# --- merges ------------------------------------------------------------------------------


@emits("add")
def emit_add(site: Site) -> Emit:
    if site.inplace is not None and len(site.args) == 2:
        other = site.args[1 - site.inplace]
        return Emit(other, inplace=True, augmented="+")
    return Emit(" + ".join(site.args))


@emits("multiply")
def emit_multiply(site: Site) -> Emit:
    """Elementwise product; an operand of lower rank is lined up channels-first, as the IR broadcasts it."""
    rank = len(site.node.shape)
    terms = []
    for arg, shape in zip(site.args, site.in_shapes):
        missing = rank - len(shape)
        terms.append(f"{arg}[:, :{', None' * missing}]" if missing and rank > 1 else arg)
    return Emit(" * ".join(terms))


@emits("concat")
def emit_concat(site: Site) -> Emit:
    dim = channels_first_axis(site.attrs.axis, len(site.shape))
    return Emit(call("torch.cat", tuple_of(*site.args), literal(dim)))


def emitter(op: str) -> Emitter:
    return EMITTERS[op]


def check_coverage(ops: dict) -> list[str]:
    """Ops without an emitter (the input op is the forward's arguments)."""
    return sorted(name for name in ops if name not in EMITTERS and name != "input")


