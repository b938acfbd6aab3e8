"""The one writer of generated Python: every model.py (both frameworks) and every train.py.

Framework-neutral, in the manner of torch.fx's code generator: a `Namespace`
hands out unique, legal identifiers that never shadow keywords or builtins;
`literal` renders every value; a `CodeWriter` appends lines at an indentation
level and returns a `PythonCode`.  Expressions that may not fit on a line are
built as `Seq`s (a call, a chained call, a tuple, a list, a dict), and the
writer splits them the way ruff's formatter (black's style) does, so the output
is already formatted: `ruff format` leaves it unchanged.  ruff itself is not a
runtime dependency; tests/test_generated_ruff.py holds the writer to it.

Nothing from a spec may reach the source except through `literal` (values),
a `Namespace` (identifiers), `comment_text` (free text) or `file_label` (a
spec's file name).
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Union

from cnnc.ir.names import sanitize

LINE_LENGTH = 120
INDENT = "    "

Expr = Union[str, "Seq"]


# Keywords and builtins, and the names every generated module binds at its top.
RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
RESERVED |= {"self", "torch", "nn", "F", "keras", "layers", "ops"}


class Namespace:
    """Unique, legal identifiers; the same key always gets the same name (torch.fx's `_Namespace`)."""

    def __init__(self, reserved: set[str] | None = None, *, attributes: bool = False) -> None:
        # Attribute names (`self.name`) only have to avoid keywords; plain names avoid builtins too.
        base = set(keyword.kwlist) if attributes else set(RESERVED)
        self._taken = base | set(reserved or ())
        self._names: dict[str, str] = {}

    def __call__(self, key: str, hint: str | None = None) -> str:
        if key in self._names:
            return self._names[key]
        base = sanitize(hint or key)
        if base in self._taken or base.lower() in self._taken:
            base = base + "_"
        name, n = base, 1
        while name in self._taken:
            n += 1
            name = f"{base}_{n}"
        self._taken.add(name)
        self._names[key] = name
        return name

    def reserve(self, *names: str) -> None:
        self._taken.update(names)


@dataclass(frozen=True)
class PythonCode:
    """A generated module: its source, and the top-level names it defines for whoever imports it."""

    src: str
    exports: tuple[str, ...] = ()


@dataclass(frozen=True)
class Seq:
    """A bracketed, comma-separated sequence: call arguments, a tuple, a list, a dict or a subscript.

    `items` are (prefix, expr) pairs; the prefix is "" or `name=` or `"key": `.
    `collection` marks a display (tuple, list, dict): black explodes those one
    item per line when they do not fit, where call arguments stay on one line.
    `bare` is a tuple written without its parentheses when it fits (`return a, b`).
    `head` is a name, or a `Seq` for a chained call (`layers.Dense(10)(x)`).
    """

    head: Expr
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


def inline(value: object) -> str:
    """`literal(value)` on one line, for a short value inside a larger piece of source (`strides=(2, 2)`)."""
    return flat(literal(value))


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
    return f"{flat(expr.head)}{expr.open}{body}{expr.close}"


def format_lines(indent: int, lead: str, expr: Expr, trail: str = "") -> list[str]:
    """`lead + expr + trail` at `indent` levels, split at brackets like black's right-hand split."""
    pad = INDENT * indent
    line = pad + lead + flat(expr) + trail
    if len(line) <= LINE_LENGTH or isinstance(expr, str) or not expr.items:
        return [line]
    opening = f"{pad}{lead}{flat(expr.head)}{expr.open}"
    if len(opening) > LINE_LENGTH and isinstance(expr.head, Seq):
        # A chained call whose callee does not fit: split the callee, go on from its closing bracket.
        # The callee is laid out with this call's opening bracket after it, as ruff measures it.
        *above, last = format_lines(indent, lead, expr.head, expr.open)
        joined = last[: -len(expr.open)] + flat(replace(expr, head="")) + trail
        if len(joined) <= LINE_LENGTH:
            return [*above, joined]
        return above + _split_items(indent, last, expr, trail)
    return _split_items(indent, opening, expr, trail)


def _split_items(indent: int, opening: str, expr: Seq, trail: str) -> list[str]:
    """The items of `expr` on their own lines after `opening`, then its closing bracket."""
    pad = INDENT * indent
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
        if comment and len(lines) == 1 and len(lines[0]) + len("  # ") + len(comment) <= LINE_LENGTH:
            lines[0] += "  # " + comment
        elif comment:
            self.line("# " + comment)
        self.lines.extend(lines)

    def indented(self) -> _Indent:
        return _Indent(self)

    def block(self, text: str) -> None:
        """Several lines at the current level (a copied class, a docstring)."""
        for row in text.splitlines():
            self.line(row)

    def source(self) -> str:
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return "\n".join(self.lines) + "\n"

    def result(self, *exports: str) -> PythonCode:
        return PythonCode(self.source(), exports)


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


_FILE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,60}")


def file_label(path: str) -> str | None:
    """A spec file's name as it may appear in generated text (`lenet5.cnn`), or None when it could not.

    Only the base name, and only when it is plain: a name with quotes, spaces or
    other characters would need escaping in a docstring or comment, so it is left out.
    """
    name = PurePosixPath(path.replace("\\", "/")).name
    return name if _FILE_NAME.fullmatch(name) else None
