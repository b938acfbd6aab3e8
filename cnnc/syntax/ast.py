"""AST dataclasses.  Every node carries the span it was parsed from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from cnnc.diagnostics import Span

# --- expressions -------------------------------------------------------------


@dataclass
class Literal:
    value: object  # int, float, bool, str
    span: Span


@dataclass
class ShapeLiteral:
    dims: tuple[int, ...]
    span: Span


@dataclass
class Name:
    id: str
    span: Span


@dataclass
class InRef:
    """`in`: a block's input value."""

    span: Span


@dataclass
class Attr:
    obj: Expr
    name: str
    span: Span


@dataclass
class Index:
    obj: Expr
    index: Expr
    span: Span


@dataclass
class Arg:
    name: str | None
    value: Expr
    span: Span


@dataclass
class Call:
    func: str
    args: list[Arg]
    span: Span
    func_span: Span


@dataclass
class ListExpr:
    items: list[Expr]
    span: Span


@dataclass
class TupleExpr:
    items: list[Expr]
    span: Span


@dataclass
class BinOp:
    op: str  # + - * / // % ** == != < <= > >= and or
    left: Expr
    right: Expr
    span: Span


@dataclass
class UnaryOp:
    op: str  # - not
    operand: Expr
    span: Span


@dataclass
class Ternary:
    cond: Expr
    then: Expr
    otherwise: Expr
    span: Span


@dataclass
class NameTemplate:
    """`as conv_dw_{i}`: words and `{expr}` parts, joined into the step's name where it runs."""

    parts: list[str | Expr]  # literal text, and expressions giving a whole number or a string
    span: Span


@dataclass
class CallStep:
    """One step of a chain: an op, a block, or a shared instance."""

    name: str
    args: list[Arg] | None  # None: written without parentheses
    repeat: Expr | None
    alias: str | None  # as written: `block_{i}` for a template
    span: Span
    name_span: Span
    template: NameTemplate | None = None  # `as block_{i}`: evaluated where the step runs


@dataclass
class OutputStep:
    name: str
    span: Span


@dataclass
class GroupStep:
    """`-> (step -> step ...) as name`: a sequential group, whose unnamed items are numbered from 0."""

    steps: list[CallStep]
    alias: str
    span: Span
    template: NameTemplate | None = None


Step = Union[CallStep, GroupStep, OutputStep]


@dataclass
class Chain:
    source: Expr
    steps: list[Step]
    span: Span


Expr = Union[Literal, ShapeLiteral, Name, InRef, Attr, Index, Call, ListExpr, TupleExpr, BinOp, UnaryOp, Ternary, Chain]

# --- statements --------------------------------------------------------------


@dataclass
class InputStmt:
    name: str
    shape: Expr
    span: Span


@dataclass
class Assign:
    name: str
    value: Expr
    span: Span


@dataclass
class OutputStmt:
    name: str
    span: Span


@dataclass
class Return:
    value: Expr
    span: Span


@dataclass
class If:
    cond: Expr
    then: list[Stmt]
    otherwise: list[Stmt]
    span: Span


@dataclass
class For:
    targets: list[str]
    iterable: Expr
    body: list[Stmt]
    span: Span


@dataclass
class Repeat:
    count: Expr
    body: list[Stmt]
    span: Span


@dataclass
class Shared:
    name: str
    step: CallStep
    span: Span


@dataclass
class Assert:
    """`assert cond, "message"`: a spec's own check of its parameters."""

    cond: Expr
    message: Expr | None
    span: Span


@dataclass
class ChainStmt:
    chain: Chain
    span: Span


Stmt = Union[InputStmt, Assign, OutputStmt, Return, If, For, Repeat, Shared, Assert, ChainStmt]

# --- definitions -------------------------------------------------------------


@dataclass
class Param:
    name: str
    type: str | None
    default: Expr | None
    span: Span


@dataclass
class Definition:
    """A `block` or a `network`: same shape, different roles."""

    kind: str  # "block" | "network"
    name: str
    params: list[Param]
    body: list[Stmt]
    span: Span
    name_span: Span
    sequential: bool = False  # `sequential block`: unnamed layers and calls are numbered from 0


@dataclass
class Import:
    path: str
    span: Span


@dataclass
class Const:
    name: str
    value: Expr
    span: Span


@dataclass
class Module:
    file: str
    imports: list[Import] = field(default_factory=list)
    consts: list[Const] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)
