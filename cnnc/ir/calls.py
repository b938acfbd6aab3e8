"""The spec's structure, kept in the IR: block calls, loops, and the names values were given.

Expansion inlines every block, but a reader (and a backend that writes one class or function
per block) needs what was inlined.  Each block call is a `Call` with its block, its bound
arguments and its parent call; a call or node made inside a `repeat`, a `for` or a repeated
step (`-> f * 3`) knows each enclosing `Loop` of its body and its index there.  Each `if` that
ran is a `Branch`: whether its condition held, the nodes its arm made and, for an `if` without
`else`, the values its names kept when it was skipped (ResNet's `downsample`: two calls of one
block, one with the optional part and one without).  `Node.call` is
the innermost call a node was made in (None: the network's own body).  A `ValueName` records
that the spec named a value (`short = in -> ...`, `skips = skips + [h]`), in the body that
named it.  A flat list of layers is one view of this; the call tree is another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnc.diagnostics import Span


@dataclass(frozen=True)
class TensorRef:
    """A tensor passed as a block argument (`up(skips[-1], 512)`): the node that makes it."""

    node: str


@dataclass(eq=False)
class Loop:
    """One run of a `repeat`, a `for` or a repeated step (`-> f * 3`) in one body."""

    kind: str  # "repeat" | "for" | "step"
    span: Span
    count: int  # iterations
    call: Call | None  # whose body holds the loop; None: the network's
    within: tuple[Iteration, ...] = ()  # the loops around it in the same body, outermost first
    targets: tuple[str, ...] = ()  # a `for`'s loop variables


@dataclass(frozen=True)
class Iteration:
    """Iteration `index` (from 0) of `loop`."""

    loop: Loop
    index: int


@dataclass(eq=False)
class Call:
    """One expansion of a block: `h -> bottleneck_stage(64, 3) as layer`."""

    path: str  # the prefix of the ids of the nodes it made: "layer_2.residual_bottleneck1"
    block: str
    args: dict[str, object]  # every parameter, defaults filled in; tensors as TensorRef
    span: Span  # the call step
    parent: Call | None  # the call whose body made this one; None: the network's body
    loops: tuple[Iteration, ...] = ()  # the loops around it in its parent's body, outermost first
    shares: Call | None = None  # a later use of a `shared` block: the call whose weights it uses
    sequential: bool = False  # a group step or a `sequential block`: its items are in chain order
    group: bool = False  # a group step `(a -> b) as name`, not a block: `block` is empty
    anonymous: bool = False  # `-> block(args) as _`: its layers' ids have the caller's path (`path`)

    @property
    def loop(self) -> Loop | None:
        """The innermost loop around the call in its parent's body."""
        return self.loops[-1].loop if self.loops else None

    @property
    def index(self) -> int | None:
        """The call's index in `loop`."""
        return self.loops[-1].index if self.loops else None

    def lineage(self) -> list[Call]:
        """The calls from the outermost down to this one."""
        calls, call = [], self
        while call is not None:
            calls.append(call)
            call = call.parent
        return calls[::-1]


@dataclass(eq=False)
class Branch:
    """One run of an `if` in one body: `if stride != 1 { short = in -> downsample }`."""

    span: Span  # the `if` statement
    call: Call | None  # whose body holds it; None: the network's
    taken: bool  # the condition held: the first arm ran, else the `else` arm (if any)
    optional: bool  # no `else`: skipped, the arm makes nothing and its names keep their values
    within: tuple[Iteration, ...] = ()  # the loops around it in the same body, outermost first
    position: int = 0  # the nodes made before it ran (its place in the order of the graph's nodes)
    kept: tuple[tuple[str, str], ...] = ()  # (name, node): the tensors the first arm's names held before it
    nodes: list[str] = field(default_factory=list)  # the ids of the nodes made while the arm ran
    condition: str | None = None  # the name tested, where the condition is one name (`if act { ... }`)


def named(call: Call | None) -> Call | None:
    """`call`, or the innermost call around it that is not anonymous: the body whose path ids have."""
    while call is not None and call.anonymous:
        call = call.parent
    return call


def named_lineage(call: Call | None) -> list[Call]:
    """The calls that are not anonymous from the outermost down to `call` (itself if it is not)."""
    return [c for c in call.lineage() if not c.anonymous] if call is not None else []


@dataclass(frozen=True)
class ValueName:
    """The spec named a value: `name` (element `index` of a list or tuple) is `node`'s output."""

    name: str
    node: str
    call: Call | None  # the body where the name was bound; None: the network's
    span: Span
    index: int | None = None


@dataclass
class Structure:
    """Every call, loop, branch and value name of one expansion, in the order the spec made them."""

    calls: list[Call] = field(default_factory=list)
    loops: list[Loop] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)
    values: list[ValueName] = field(default_factory=list)
    _seen: set[tuple] = field(default_factory=set)
    _first_name: dict[str, str] = field(default_factory=dict)

    def name_value(self, value: ValueName) -> None:
        """Record a name, once per (name, node, body, index): `skips = skips + [h]` renames old items."""
        key = (value.name, value.node, value.call, value.index)
        if key in self._seen:
            return
        self._seen.add(key)
        self.values.append(value)
        if value.index is None:
            self._first_name.setdefault(value.node, value.name)

    def value_name(self, node_id: str) -> str | None:
        """The first name the spec gave the node's output, if it named it as a whole."""
        return self._first_name.get(node_id)

    def children(self, call: Call | None) -> list[Call]:
        """The calls made directly in `call`'s body (None: the network's)."""
        return [c for c in self.calls if c.parent is call]
