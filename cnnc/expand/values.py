"""Values the expander computes with, and the builtin functions of the language."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cnnc.diagnostics import Span
from cnnc.ir.shape_math import Shape


@dataclass(frozen=True)
class Tensor:
    """A value in the graph: the node that produces it, its shape, and where the user wrote it."""

    node: str
    shape: Shape
    span: Span

    def at(self, span: Span) -> Tensor:
        return Tensor(self.node, self.shape, span)


class Symbol(str):
    """A bare word that names no value: an enum such as `same` or `bilinear`."""


class Poison:
    """The result of an expression that already reported an error; silences follow-ups."""

    _instance: Poison | None = None

    def __new__(cls) -> Poison:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<error>"


POISON = Poison()


def a_type_name(value: object) -> str:
    """`type_name` with its article: "an int", "a tensor", "a name `same`"."""
    name = type_name(value)
    return ("an " if name[0] in "aeiou" else "a ") + name


def type_name(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Symbol):
        return f"name `{value}`"
    if isinstance(value, Tensor):
        return "tensor"
    for kind, name in _TYPE_NAMES:
        if isinstance(value, kind):
            return name
    return "value"  # never a Python class name in a message: the user wrote no Python


_TYPE_NAMES = ((int, "int"), (float, "float"), (str, "string"), (tuple, "tuple"), (list, "list"), (range, "range"))


def shape_attribute(tensor: Tensor, name: str) -> object | None:
    """`x.c`, `x.h`, `x.w`, `x.d`, `x.length`, `x.shape`, `x.spatial`, `x.rank`; None if unknown."""
    shape = tensor.shape
    spatial = shape[:-1]
    named = {"c": shape[-1], "shape": shape, "spatial": spatial, "rank": len(spatial)}
    if len(spatial) == 1:
        named["length"] = spatial[0]
    elif len(spatial) == 2:
        named.update(h=spatial[0], w=spatial[1])
    elif len(spatial) == 3:
        named.update(d=spatial[0], h=spatial[1], w=spatial[2])
    return named.get(name)


SHAPE_ATTRIBUTES = ("c", "h", "w", "d", "length", "shape", "spatial", "rank")


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round channels to a multiple of `divisor`, never more than 10% down.

    The rule of the MobileNet and EfficientNet reference code (`_make_divisible`).
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """Width scaling: channels x width, rounded as the EfficientNet paper's code does."""
    return make_divisible(channels * width, divisor)


def round_repeats(repeats: int, depth: float) -> int:
    """Depth scaling: ceil(repeats x depth), as in EfficientNet."""
    return int(math.ceil(repeats * depth))


def _range(*args: int) -> range:
    return range(*args)


def _round(x: float, digits: int | None = None) -> float:
    if digits is None:
        return round(x)
    # round(5, -10**9) builds 10**(10**9).  Past 400 digits every float, and every int below
    # MAX_MAGNITUDE, rounds the same, so clamping changes no result.
    return round(x, max(-400, min(400, digits)))


def _str(value: int | str) -> str:
    """A whole number as text, for names built in a template: `"_" + str(n)`."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"str takes a whole number or a string, not a {type_name(value)}")
    return str(value)


# The builtins whose arguments are all numbers (None: an optional argument left out).
NUMERIC_BUILTINS = frozenset(
    {"abs", "ceil", "floor", "round", "sqrt", "make_divisible", "round_filters", "round_repeats"}
)

BUILTINS = {
    "min": min,
    "max": max,
    "abs": abs,
    "ceil": lambda x: int(math.ceil(x)),
    "floor": lambda x: int(math.floor(x)),
    "round": _round,
    "int": int,
    "float": float,
    "sqrt": math.sqrt,
    "len": len,
    "sum": sum,
    "range": _range,
    "make_divisible": make_divisible,
    "round_filters": round_filters,
    "round_repeats": round_repeats,
    "str": _str,
}
