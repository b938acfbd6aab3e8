"""Scopes: what names are bound in a body being expanded, and where the others are bound.

A scope is a network's body or one block call's.  It holds the names bound so far, the
bodies being executed (to tell "used before it is defined" and cycles from unknown names),
the call and loop iterations that nodes made in it belong to, and the network parameters'
use counts (a parameter read only as a layer attribute needs no recompilation to change).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from cnnc.diagnostics import Label, Span
from cnnc.ir.calls import Call, Iteration
from cnnc.syntax import ast


@dataclass
class SharedInstance:
    """`shared f = step`: a layer or block whose weights every use shares."""

    name: str
    step: ast.CallStep
    uses: int = 0
    template: list[str] = field(default_factory=list)  # the node ids its first use made
    first_call: Call | None = None  # the first use's call, for a shared block


@dataclass
class Scope:
    kind: str  # "network" | "block"
    prefix: str  # of the ids of nodes made here: "layer_2.residual_bottleneck1."
    vars: dict[str, object] = field(default_factory=dict)
    frames: list[Frame] = field(default_factory=list)  # the bodies being executed, innermost last
    counters: Counter = field(default_factory=Counter)  # automatic names handed out: conv1, conv2
    shared: dict[str, SharedInstance] = field(default_factory=dict)
    block_input: object | None = None
    frozen: bool = False
    network_params: frozenset[str] = frozenset()
    returned: object | None = None
    consts: dict[str, object] = field(default_factory=dict)  # the constants evaluated so far
    call: Call | None = None  # the block call this scope executes; None: the network's body
    iterations: tuple[Iteration, ...] = ()  # the loops running in this body, outermost first
    param_reads: Counter = field(default_factory=Counter)  # network parameter -> times read
    param_attributes: Counter = field(default_factory=Counter)  # ... -> times passed as a whole attribute

    def visible_names(self) -> list[str]:
        return list(self.vars) + list(self.consts) + list(self.shared)

    def bound_later(self, name: str) -> tuple[Span, BodyInfo] | None:
        """Where a name not yet bound is assigned further down, if it is."""
        for frame in reversed(self.frames):
            for index, span in frame.info.positions.get(name, ()):
                if index > frame.index:
                    return span, frame.info
        return None


@dataclass
class BodyInfo:
    """What a statement list assigns, and where, and which name reads which."""

    positions: dict[str, list[tuple[int, Span]]]
    stmts: list[ast.Stmt]

    @classmethod
    def of(cls, stmts: list[ast.Stmt]) -> BodyInfo:
        positions: dict[str, list[tuple[int, Span]]] = {}
        for index, stmt in enumerate(stmts):
            for assign in _assignments([stmt]):
                positions.setdefault(assign.name, []).append((index, assign.span))
        return cls(positions, stmts)

    def dependencies(self):
        """Which assigned name reads which (networkx, imported only on this error path)."""
        import networkx

        deps = networkx.DiGraph()
        for assign in _assignments(self.stmts):
            if isinstance(assign, ast.Assign):
                deps.add_edges_from((assign.name, read) for read in _free_names(assign.value))
        return deps


@dataclass
class Frame:
    info: BodyInfo
    index: int = 0  # the statement being executed


def unbound_error(name: ast.Name, defined: Span, info: BodyInfo, assigning: str | None) -> tuple[str, str, dict]:
    """(code, message, extras) for a name read before the statement that binds it runs.

    A cycle (`p = q -> relu; q = p -> relu`) is told as one (E0401) when the name
    being assigned is reachable from the one read; otherwise it is a use before
    the definition (E0103).
    """
    import networkx

    deps = info.dependencies()
    if assigning in deps and name.id in deps and networkx.has_path(deps, name.id, assigning):
        path = networkx.shortest_path(deps, name.id, assigning)
        loop = " -> ".join(f"`{n}`" for n in [assigning] + path)
        spans = {n: info.positions[n][-1][1] for n in path if n in info.positions}
        return (
            "E0401",
            f"cycle: {loop}",
            {
                "labels": [Label(spans[n], f"`{n}` is defined here") for n in path if n in spans],
                "help": "a network is acyclic: break the loop or rename one of the values",
            },
        )
    return (
        "E0103",
        f"`{name.id}` is used before it is defined",
        {"labels": [Label(defined, "defined here")], "help": f"move the definition of `{name.id}` above this line"},
    )


def _assignments(stmts: list[ast.Stmt]) -> list[ast.Assign | ast.InputStmt]:
    """The statements that bind a name, nested bodies included, in order."""
    found: list[ast.Assign | ast.InputStmt] = []
    for stmt in stmts:
        if isinstance(stmt, (ast.Assign, ast.InputStmt)):
            found.append(stmt)
        elif isinstance(stmt, ast.If):
            found += _assignments(stmt.then) + _assignments(stmt.otherwise)
        elif isinstance(stmt, (ast.For, ast.Repeat)):
            found += _assignments(stmt.body)
    return found


def _free_names(expr: object) -> set[str]:
    """Names an expression reads (a syntactic over-approximation)."""
    found: set[str] = set()
    stack = [expr]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Name):
            found.add(item.id)
        elif isinstance(item, list):
            stack.extend(item)
        elif hasattr(item, "__dataclass_fields__") and not isinstance(item, Span):
            stack.extend(getattr(item, f) for f in item.__dataclass_fields__ if f != "span")
    return found
