"""Window arithmetic shared by convolutions, pools, padding and cropping.

Shapes are tuples in the spec's own order, batch excluded, channels last:
1D (length, c), 2D (h, w, c), 3D (d, h, w, c).  Every failure raises
`ShapeError` with the arithmetic the user needs to see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cnnc.limits import MAX_DIM, MAX_ELEMENTS

Shape = tuple[int, ...]


@dataclass
class ShapeError(Exception):
    message: str
    notes: list[str] = field(default_factory=list)
    help: str | None = None
    operand: int | None = None  # which input the error is about, if one
    code: str = "E0301"

    def __str__(self) -> str:
        return self.message


def spatial_rank(shape: Shape, op: str) -> int:
    rank = len(shape) - 1
    if rank not in (1, 2, 3):
        raise ShapeError(
            f"`{op}` needs a 1D, 2D or 3D input with channels, got shape {fmt(shape)}",
            code="E0304",
            help="convolutions and pools take length x c, h x w x c or d x h x w x c",
        )
    return rank


def per_dim(value: int | tuple, rank: int, what: str) -> tuple:
    """Broadcast an int to every spatial dimension, or check a tuple's length."""
    if isinstance(value, tuple):
        if len(value) != rank:
            raise ShapeError(
                f"{what} has {len(value)} values but the input has {rank} spatial dimension"
                + ("s" if rank != 1 else ""),
                code="E0305",
            )
        return value
    return (value,) * rank


def pad_pairs(padding: int | tuple, rank: int, what: str = "padding") -> tuple[tuple[int, int], ...]:
    """Explicit padding as (before, after) per spatial dimension."""
    dims = per_dim(padding, rank, what)
    return tuple(p if isinstance(p, tuple) else (p, p) for p in dims)


def same_pad_pairs(sizes: Shape, kernel: tuple, stride: tuple, dilation: tuple) -> tuple:
    """TensorFlow's `same` padding: output ceil(n / s), the extra pixel at the end."""
    pairs = []
    for n, f, s, d in zip(sizes, kernel, stride, dilation):
        eff = d * (f - 1) + 1
        out = -(-n // s)
        total = max((out - 1) * s + eff - n, 0)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)


def keyword_pairs(padding: str, sizes: Shape, kernel: tuple, stride: tuple, dilation: tuple) -> tuple:
    """(before, after) per axis for `same_lower` (TF's `same` with the odd cell at the start, ONNX's
    SAME_LOWER) and `causal` (1D only: every d * (k - 1) cell before, so no output sees the future)."""
    if padding == "causal":
        if len(sizes) != 1:
            raise ShapeError(
                f"`padding=causal` is for 1D input, got {len(sizes)} spatial dimensions",
                code="E0305",
                help="pad explicitly, e.g. `padding=((2, 0), (1, 1))`",
            )
        return ((dilation[0] * (kernel[0] - 1), 0),)
    return tuple((after, before) for before, after in same_pad_pairs(sizes, kernel, stride, dilation))


def resolve_padding(
    padding: str | int | tuple, sizes: Shape, kernel: tuple, stride: tuple, dilation: tuple | None = None
) -> tuple:
    """Explicit (before, after) pairs per spatial axis for `valid`, `same` (TensorFlow) or explicit padding."""
    rank = len(sizes)
    if padding == "valid":
        return ((0, 0),) * rank
    if padding == "same":
        return same_pad_pairs(sizes, kernel, stride, dilation or (1,) * rank)
    if padding in ("same_lower", "causal"):
        return keyword_pairs(padding, sizes, kernel, stride, dilation or (1,) * rank)
    return pad_pairs(padding, rank)


def window_output(
    sizes: Shape,
    kernel: tuple,
    stride: tuple,
    padding: str | int | tuple,
    dilation: tuple | None = None,
    ceil_mode: bool = False,
) -> Shape:
    """Output sizes of a sliding window, with the formula in the error note."""
    rank = len(sizes)
    dilation = dilation or (1,) * rank
    if padding == "same":
        return tuple(-(-n // s) for n, s in zip(sizes, stride))
    if padding in ("same_lower", "causal"):
        padding = keyword_pairs(padding, sizes, kernel, stride, dilation)
    pairs = ((0, 0),) * rank if padding == "valid" else pad_pairs(padding, rank)
    out = []
    for axis, (n, f, s, d, (pb, pa)) in enumerate(zip(sizes, kernel, stride, dilation, pairs)):
        eff = d * (f - 1) + 1
        span = n + pb + pa - eff
        size = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (size - 1) * s >= n + pb:  # PyTorch: last window must start inside
            size -= 1
        if span < 0 or size < 1:
            raise ShapeError(
                f"kernel {eff} does not fit the padded input {n + pb + pa} on axis {axis}",
                notes=[_formula(n, pb, pa, f, d, s, span)],
                help=_fit_help(padding, s),
            )
        out.append(size)
    return tuple(out)


def _formula(n: int, pb: int, pa: int, f: int, d: int, s: int, span: int) -> str:
    pad = f"2*{pb}" if pb == pa else f"{pb}+{pa}"
    kernel = f"{f}" if d == 1 else f"({d}*({f}-1)+1)"
    value = span / s + 1
    shown = f"{value:g}" if value == int(value) else f"{value:.3g}"
    return f"(n + 2p - f) / s + 1 = ({n} + {pad} - {kernel}) / {s} + 1 = {shown}"


def _fit_help(padding, stride: int) -> str:
    if padding == "valid" or padding == 0:
        return "did you mean `padding=same`? or use a smaller kernel"
    return "use a smaller kernel or more padding"


def check_size(shape: Shape) -> Shape:
    """Refuse absurd shapes before anything downstream multiplies them."""
    if any(d > MAX_DIM for d in shape) or math.prod(shape) > MAX_ELEMENTS:
        raise ShapeError(
            f"shape {fmt(shape)} is too large ({math.prod(shape):,} elements per example)",
            code="E0601",
            notes=[f"cnnc refuses dimensions over {MAX_DIM:,} and tensors over {MAX_ELEMENTS:,} elements"],
        )
    if any(d < 1 for d in shape):
        raise ShapeError(f"shape {fmt(shape)} has an empty dimension", code="E0301")
    return shape


def fmt(shape: Shape) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"
