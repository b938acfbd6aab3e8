"""Emitters for the ops that slide a window: convolutions and pooling.

Padding is resolved to TensorFlow's (before, after) pairs first (`same` puts
the odd pixel at the end); PyTorch's own symmetric padding is used where it
gives the same cells, an explicit `F.pad` where it does not.
"""

from __future__ import annotations

from cnnc.backends.common import Pairs, symmetric, transpose_crops, uniform, window_geometry
from cnnc.backends.pysource import Expr, call, dict_of, list_of, literal
from cnnc.backends.torch.site import AVG_POOL_HELPER, DILATED_AVG_POOL_HELPER, FRESH, Emit, Site, emits, size_literal
from cnnc.ir.ops import constant_kernel

# --- padding -------------------------------------------------------------


def _torch_pad(pairs: Pairs) -> tuple[int, ...]:
    """(before, after) pairs per spatial axis in F.pad's order: last axis first."""
    return tuple(v for before, after in reversed(pairs) for v in (before, after))


def padded(x: Expr, pairs: Pairs, value: str | None = None) -> Expr:
    if all(p == (0, 0) for p in pairs):
        return x
    return call("F.pad", x, literal(_torch_pad(pairs)), value=value)


def _native_or_explicit(site: Site, pairs: Pairs, stride: tuple) -> tuple[int | tuple, Pairs]:
    """(padding for the layer itself, padding to apply with F.pad first).

    PyTorch layers pad symmetrically; TensorFlow's `same` with stride > 1 (or an
    even kernel) pads one pixel more at the end, which takes an explicit F.pad.
    With stride > 1 `same` padding depends on the input size, and a shared layer
    may see several sizes, so there it is always explicit.
    """
    size_dependent = site.attrs.padding in ("same", "same_lower") and site.shared and any(s > 1 for s in stride)
    if symmetric(pairs) and not size_dependent:
        return uniform(tuple(before for before, _ in pairs)), ((0, 0),) * len(pairs)
    return 0, pairs


def _conv_class(rank: int, transposed: bool = False) -> str:
    return f"nn.ConvTranspose{rank}d" if transposed else f"nn.Conv{rank}d"


def _conv_options(site: Site, stride: tuple, padding: int | tuple, dilation: tuple) -> dict[str, Expr | None]:
    return {
        "stride": site.bound.get("stride") or (size_literal(stride) if any(s != 1 for s in stride) else None),
        "padding": literal(padding) if padding != 0 else None,
        "dilation": size_literal(dilation) if any(d != 1 for d in dilation) else None,
    }


# --- convolutions ----------------------------------------------------------------


@emits("conv", output=FRESH)
def emit_conv(site: Site) -> Emit:
    kernel, stride, dilation, pairs = window_geometry(site.node, site.shape)
    native, explicit = _native_or_explicit(site, pairs, stride)
    groups = site.attrs.groups
    module = call(
        _conv_class(site.rank),
        site.width(),
        site.value("filters"),
        size_literal(kernel),
        **_conv_options(site, stride, native, dilation),
        groups=literal(groups) if groups != 1 else None,
        bias=site.option("bias", True),
    )
    emit = Emit(call(site.module, padded(site.x, explicit)), module)
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


@emits("depthwise", output=FRESH)
def emit_depthwise(site: Site) -> Emit:
    kernel, stride, dilation, pairs = window_geometry(site.node, site.shape)
    native, explicit = _native_or_explicit(site, pairs, stride)
    c = site.channels
    module = call(
        _conv_class(site.rank),
        literal(c),
        literal(c * site.attrs.multiplier),
        size_literal(kernel),
        **_conv_options(site, stride, native, dilation),
        groups=literal(c),
        bias=site.option("bias", True),
    )
    return Emit(call(site.module, padded(site.x, explicit)), module)


@emits("separable", output=FRESH)
def emit_separable(site: Site) -> Emit:
    """Depthwise (no bias) then pointwise (with the bias), as one ModuleDict so the weights stay together."""
    kernel, stride, dilation, pairs = window_geometry(site.node, site.shape)
    native, explicit = _native_or_explicit(site, pairs, stride)
    c, mid, cls = site.channels, site.channels * site.attrs.multiplier, _conv_class(site.rank)
    depthwise = call(
        cls,
        literal(c),
        literal(mid),
        size_literal(kernel),
        **_conv_options(site, stride, native, dilation),
        groups=literal(c),
        bias="False",
    )
    pointwise = call(cls, literal(mid), site.value("filters"), "1", bias=site.option("bias", True))
    module = call("nn.ModuleDict", dict_of([('"depthwise"', depthwise), ('"pointwise"', pointwise)]))
    inner = call(f"{site.module}.depthwise", padded(site.x, explicit))
    return Emit(call(f"{site.module}.pointwise", inner), module)


@emits("pointwise", output=FRESH)
def emit_pointwise(site: Site) -> Emit:
    module = call(_conv_class(site.rank), site.width(), site.value("filters"), "1", bias=site.option("bias", True))
    return Emit(call(site.module, site.x), module)


@emits("conv_transpose", output=FRESH)
def emit_conv_transpose(site: Site) -> Emit:
    kernel, stride, dilation, crops = transpose_crops(site.attrs, site.shape[:-1])
    # PyTorch crops `padding` at both ends and adds output_padding at the end: the rest of the
    # crop (TensorFlow's odd `same` cell, asymmetric explicit padding) is sliced off after.
    padding = tuple(min(before, max(after, 0)) for before, after in crops)
    extra = tuple(max(p - after, 0) for p, (_, after) in zip(padding, crops))
    sliced = tuple((before - p, max(after - p, 0)) for p, (before, after) in zip(padding, crops))
    groups = site.attrs.groups
    module = call(
        _conv_class(site.rank, transposed=True),
        literal(site.channels),
        site.value("filters"),
        size_literal(kernel),
        stride=size_literal(stride) if any(s != 1 for s in stride) else None,
        padding=size_literal(padding) if any(padding) else None,
        output_padding=size_literal(extra) if any(extra) else None,
        groups=literal(groups) if groups != 1 else None,
        dilation=size_literal(dilation) if any(d != 1 for d in dilation) else None,
        bias=site.option("bias", True),
    )
    emit = Emit(call(site.module, site.x), module)
    if any(any(pair) for pair in sliced):
        slices = ", ".join(f"{start or ''}:{f'-{end}' if end else ''}" for start, end in sliced)
        emit.then = ("{}[:, :, " + slices + "]",)
    return emit


# --- pooling ---------------------------------------------------------------------


def _pool_size(n: int, k: int, s: int, p: int, ceil: bool) -> int:
    """PyTorch's pooling output size (its ceil-mode rule included)."""
    span = n + 2 * p - k
    size = (-(-span // s) if ceil else span // s) + 1
    if ceil and (size - 1) * s >= n + p:
        size -= 1
    return size


def _native_pool(site: Site, kernel: tuple, window: tuple, stride: tuple, pairs: Pairs, out: tuple) -> bool | None:
    """The ceil mode with which PyTorch's own padding (the `before` pads) gives exactly the `out`
    windows, or None.  Uncounted padded cells never count (max ignores them, the average divides by
    the cells it covers), so only where the windows start matters: TensorFlow's `same` with stride 2
    pads one more at the end, and ceil mode makes that last window (`nn.MaxPool2d(3, 2, ceil_mode=True)`).
    A pool that counts its padding needs it symmetric (PyTorch never counts ceil mode's extra cells)."""
    sizes, before = site.shape[:-1], tuple(b for b, _ in pairs)
    if any(2 * b > k for b, k in zip(before, kernel)):  # PyTorch pads at most half the window
        return None
    is_avg = site.node.op.name == "avgpool"
    if is_avg and any(w != k for w, k in zip(window, kernel)):
        return None  # PyTorch's average pools have no dilation
    if is_avg and site.attrs.count_include_pad and not symmetric(pairs):
        return None
    if is_avg and site.rank == 3 and any(n < k for n, k in zip(sizes, kernel)):
        return None  # avg_pool3d refuses an input smaller than the window even where padding covers it
    modes = (True,) if site.attrs.ceil and site.attrs.padding != "same" else (False, True)
    for ceil in modes:
        if all(_pool_size(n, w, s, p, ceil) == o for n, w, s, p, o in zip(sizes, window, stride, before, out)):
            return ceil
    return None


@emits("maxpool", "avgpool", output=FRESH)
def emit_pool(site: Site) -> Emit:
    kernel, stride, dilation, pairs = window_geometry(site.node, site.shape)
    window = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    sizes, out = site.shape[:-1], site.node.shape[:-1]
    is_max = site.node.op.name == "maxpool"
    dilated = any(d != 1 for d in dilation)
    fn = f"F.{'max' if is_max else 'avg'}_pool{site.rank}d"
    size, step = size_literal(kernel), (size_literal(stride) if stride != kernel else None)
    counted = not is_max and site.attrs.count_include_pad
    ceil = _native_pool(site, kernel, window, stride, pairs, out)
    if counted and ceil is None:
        return _counted_avg_pool(site, fn, pairs, kernel, stride)
    rate = size_literal(dilation) if dilated else None
    if ceil is not None:
        native = tuple(b for b, _ in pairs)
        any_pad = any(native)
        return Emit(
            call(
                fn,
                site.x,
                size,
                stride=step,
                padding=size_literal(native) if any_pad else None,
                dilation=rate,
                ceil_mode="True" if ceil else None,
                count_include_pad="False" if any_pad and not is_max and not counted else None,
            )
        )
    # Padding PyTorch cannot express (asymmetric, wider than half the window): pad explicitly, enough at
    # the end for exactly `out` windows.
    explicit = tuple(
        (b, max(0, (o - 1) * s + w - n - b)) for (b, _), n, w, s, o in zip(pairs, sizes, window, stride, out)
    )
    if is_max:
        return Emit(call(fn, padded(site.x, explicit, value='float("-inf")'), size, stride=step, dilation=rate))
    if dilated:
        helper = DILATED_AVG_POOL_HELPER
        args = (literal(_torch_pad(explicit)), literal(kernel), literal(stride), literal(dilation))
        return Emit(call(helper, site.x, *args), helpers=(helper,))
    return Emit(
        call(AVG_POOL_HELPER, site.x, literal(_torch_pad(explicit)), size, size_literal(stride)),
        helpers=(AVG_POOL_HELPER,),
    )


def _counted_avg_pool(site: Site, fn: str, pairs: Pairs, kernel: tuple, stride: tuple) -> Emit:
    """`count_include_pad=true` where PyTorch's symmetric padding does not give the cells: zeros
    padded explicitly count; ceil mode's cells past them are padded by the helper, uncounted."""
    sizes, out = site.shape[:-1], site.node.shape[:-1]
    x = padded(site.x, pairs)
    overhang = tuple(
        (0, max(0, (o - 1) * s + k - (n + b + a))) for (b, a), n, k, s, o in zip(pairs, sizes, kernel, stride, out)
    )
    size, step = size_literal(kernel), size_literal(stride)
    if not any(after for _, after in overhang):
        return Emit(call(fn, x, size, stride=step if stride != kernel else None))
    return Emit(call(AVG_POOL_HELPER, x, literal(_torch_pad(overhang)), size, step), helpers=(AVG_POOL_HELPER,))
