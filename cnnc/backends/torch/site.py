"""What an emitter gets (`Site`) and gives (`Emit`), and the table from op name to emitter.

An emitter is a small function registered with `@emits("op", ...)`; the
families live in `windows.py` (convolutions and pooling: ops that slide a
window and need padding) and `layers.py` (everything else).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cnnc.backends.common import uniform
from cnnc.backends.pysource import Expr, literal
from cnnc.ir.graph import Node
from cnnc.ir.shape_math import Shape

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
    # PyTorch's average pools have no dilation: the window sum is a depthwise convolution with ones.
    "avg_pool_dilated": [
        "def avg_pool_dilated(",
        "    x: torch.Tensor,",
        "    pad: tuple[int, ...],",
        "    size: tuple[int, ...],",
        "    stride: tuple[int, ...],",
        "    dilation: tuple[int, ...],",
        ") -> torch.Tensor:",
        '    """Dilated average pooling over `F.pad(x, pad)` that does not count the padded cells."""',
        "    conv = (F.conv1d, F.conv2d, F.conv3d)[x.dim() - 3]",
        "    ones = x.new_ones(x.shape[1], 1, *size)",
        "    total = conv(F.pad(x, pad), ones, stride=stride, dilation=dilation, groups=x.shape[1])",
        "    count = conv(F.pad(torch.ones_like(x[:1, :1]), pad), ones[:1], stride=stride, dilation=dilation)",
        "    return total / count",
    ],
}
DILATED_AVG_POOL_HELPER = "avg_pool_dilated"


# The key of `Site.bound` for a layer's input width, when a constructor argument sets it.
IN_WIDTH = "<input width>"


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

    def width(self) -> Expr:
        """The input's channels as source: a constructor argument where one sets it, else the literal."""
        return self.bound.get(IN_WIDTH) or literal(self.channels)

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

# What the emitted code's value is, as far as memory goes (lifetimes.py decides in-place work from it):
SAVED = "saved"  # a new tensor that autograd may keep for the backward pass (sigmoid, tanh, ...): the default
FRESH = "fresh"  # a new tensor its backward pass does not read: a later op may overwrite it
VIEW = "view"  # may share memory with its first input (a view, or the input itself)
INPUT = "input"  # is its first input: no code, the input's variable stands for it
OUTPUTS: dict[str, str] = {}


def emits(*ops: str, output: str = SAVED) -> Callable[[Emitter], Emitter]:
    """Register `fn` as the emitter of `ops`, with what its value is (`output`)."""

    def register(fn: Emitter) -> Emitter:
        for op in ops:
            assert op not in EMITTERS, op
            EMITTERS[op], OUTPUTS[op] = fn, output
        return fn

    return register


def size_literal(values: tuple) -> Expr:
    """A per-axis size as PyTorch takes it: one int when every axis agrees."""
    return literal(uniform(values))
