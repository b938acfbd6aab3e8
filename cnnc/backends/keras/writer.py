"""A list of source lines with indentation, and calls laid out to fit the line length.

Generated code must pass `ruff check` (line length 120), so a layer call that
would run long is broken after its opening parenthesis, the way a formatter would.
"""

from __future__ import annotations

LINE_LENGTH = 120
INDENT = "    "


class Writer:
    """Appends lines; `indented()` opens a nested block."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def line(self, text: str = "") -> None:
        self.lines.append(INDENT * self.depth + text if text else "")

    def block(self, text: str) -> None:
        """Several lines at the current depth (a copied class, a docstring)."""
        for row in text.splitlines():
            self.line(row)

    def indent(self) -> None:
        self.depth += 1

    def dedent(self) -> None:
        self.depth -= 1

    def assign_call(self, target: str, callee: str, args: list[str], applied: str | None = None,
                    comment: str | None = None) -> None:
        """`target = callee(args)(applied)`, wrapped when it does not fit one line."""
        call = f"{target} = {callee}({', '.join(args)})" + (f"({applied})" if applied is not None else "")
        pad = INDENT * self.depth
        if comment and len(pad + call) + 3 + len(comment) <= LINE_LENGTH:
            call += f"  # {comment}"
        if len(pad + call) <= LINE_LENGTH:
            self.line(call)
            return
        self.line(f"{target} = {callee}(")
        inner = INDENT * (self.depth + 1)
        joined = ", ".join(args)
        if len(inner + joined) + 1 <= LINE_LENGTH:
            self.line(INDENT + joined)
        else:
            for arg in args:
                self.line(INDENT + arg + ",")
        if applied is None:
            self.line(")")
        elif len(pad + f")({applied})") <= LINE_LENGTH:
            self.line(f")({applied})")
        elif applied.startswith("["):  # a long list of merged inputs: one per line
            self.line(")([")
            for item in applied[1:-1].split(", "):
                self.line(INDENT + item + ",")
            self.line("])")
        else:
            self.line(")(")
            self.line(INDENT + applied)
            self.line(")")

    def source(self) -> str:
        return "\n".join(self.lines).rstrip("\n") + "\n"


def literal(value: object) -> str:
    """A Python literal for a value: `repr`, with double-quoted strings as the formatter would write them."""
    if isinstance(value, str) and value.isascii() and value.isprintable() and "\\" not in value:
        return '"' + value.replace('"', '\\"') + '"'
    return repr(value)
