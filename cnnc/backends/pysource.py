"""Python source for generated modules: literals, expressions and a line writer.

Framework-neutral: any backend that writes Python can use it.  Like torch.fx's
code generator, a backend appends lines to a `CodeWriter`; expressions that may
not fit on a line are built as `Seq`s (a call, a tuple, a list, a dict), and
the writer splits them the way ruff's formatter (black's style) does, so the
output is already formatted: `ruff format` leaves it unchanged.

Nothing from a spec may reach the source except through `literal` (values) or
`cnnc.backends.naming` (identifiers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Union

LINE_LENGTH = 120
INDENT = "    "

Expr = Union[str, "Seq"]


@dataclass(frozen=True)
class Seq:
    """A bracketed, comma-separated sequence: call arguments, a tuple, a list, a dict or a subscript.

    `items` are (prefix, expr) pairs; the prefix is "" or `name=` or `"key": `.
    `collection` marks a display (tuple, list, dict): black explodes those one
    item per line when they do not fit, where call arguments stay on one line.
    `bare` is a tuple written without its parentheses when it fits (`return a, b`).
    """

    head: str
    open: str
    items: tuple[tuple[str, Expr], ...]
    close: str
    collection: bool = False
    bare: bool = False

    @property
    def single_tuple(self) -> bool:
        return self.collection and self.open == "(" and len(self.items) == 1


def call(func: str, *args: Expr, **kwargs: Expr | None) -> Seq:
    """`func(args, name=value)`; keyword arguments whose value is None are left out."""
    items = [("", a) for a in args] + [(f"{k}=", v) for k, v in kwargs.items() if v is not None]
    return Seq(func, "(", tuple(items), ")")


def tuple_of(*items: Expr, bare: bool = False) -> Seq:
    return Seq("", "(", tuple(("", i) for i in items), ")", collection=True, bare=bare)


def list_of(*items: Expr) -> Seq:
    return Seq("", "[", tuple(("", i) for i in items), "]", collection=True)


def dict_of(pairs: list[tuple[str, Expr]]) -> Seq:
    """A dict display; keys are string literals already (`literal(key)`)."""
    return Seq("", "{", tuple((f"{k}: ", v) for k, v in pairs), "}", collection=True)


def literal(value: object) -> Expr:
    """Python source for a plain value, double-quoted strings and all ASCII."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, tuple):
        return tuple_of(*(literal(v) for v in value))
    if isinstance(value, list):
        return list_of(*(literal(v) for v in value))
    raise TypeError(f"no literal for {type(value).__name__}")


def quote(text: str) -> str:
    """A double-quoted, ASCII-only string literal: every quote, backslash and control character escaped."""
    out = []
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def flat(expr: Expr) -> str:
    """The expression on one line."""
    if isinstance(expr, str):
        return expr
    body = ", ".join(prefix + flat(e) for prefix, e in expr.items) + ("," if expr.single_tuple else "")
    if expr.bare and not expr.single_tuple:
        return body
    return f"{expr.head}{expr.open}{body}{expr.close}"


def format_lines(indent: int, lead: str, expr: Expr, trail: str = "") -> list[str]:
    """`lead + expr + trail` at `indent` levels, split at brackets like black's right-hand split."""
    pad = INDENT * indent
    line = pad + lead + flat(expr) + trail
    if len(line) <= LINE_LENGTH or isinstance(expr, str) or not expr.items:
        return [line]
    opening = f"{pad}{lead}{expr.head}{expr.open}"
    closing = f"{pad}{expr.close}{trail}"
    inner = INDENT * (indent + 1)
    if len(expr.items) == 1 and not expr.single_tuple:
        prefix, item = expr.items[0]
        return [opening, *format_lines(indent + 1, prefix, item), closing]
    if not expr.collection:
        body = inner + ", ".join(prefix + flat(e) for prefix, e in expr.items)
        if len(body) <= LINE_LENGTH:
            return [opening, body, closing]
    lines = [opening]
    for prefix, item in expr.items:
        lines += format_lines(indent + 1, prefix, item, ",")
    return lines + [closing]


@dataclass
class CodeWriter:
    """Source as a list of lines, with an indentation level."""

    lines: list[str] = field(default_factory=list)
    level: int = 0

    def line(self, text: str = "") -> None:
        self.lines.append(INDENT * self.level + text if text else "")

    def statement(self, lead: str, expr: Expr, trail: str = "", comment: str | None = None) -> None:
        """One statement; the comment trails it when the whole fits on a line, else goes above it."""
        lines = format_lines(self.level, lead, expr, trail)
        if comment and len(lines) == 1 and len(lines[0]) + 3 + len(comment) <= LINE_LENGTH:
            lines[0] += "  # " + comment
        elif comment:
            self.line("# " + comment)
        self.lines.extend(lines)

    def indented(self) -> _Indent:
        return _Indent(self)

    def source(self) -> str:
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return "\n".join(self.lines) + "\n"


class _Indent:
    def __init__(self, writer: CodeWriter) -> None:
        self.writer = writer

    def __enter__(self) -> CodeWriter:
        self.writer.level += 1
        return self.writer

    def __exit__(self, *exc: object) -> None:
        self.writer.level -= 1


def comment_text(text: str, limit: int = 100) -> str:
    """Free text made safe for a `#` comment: printable ASCII only, on one line, bounded."""
    safe = "".join(ch if " " <= ch <= "~" else "?" for ch in text)
    return safe if len(safe) <= limit else safe[: limit - 3] + "..."
