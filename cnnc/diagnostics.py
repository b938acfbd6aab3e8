"""Compiler diagnostics: data first, rendered rustc/Elm style.

A diagnostic is a level, a stable code, a short lowercase message, a primary
span, optional labelled secondary spans, notes (the arithmetic) and a help line.
`CnncError` carries one or more diagnostics out of any stage; the command line
renders them against the user's own source text.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from cnnc.limits import MAX_DIAGNOSTICS, MAX_SHOWN_LINE


@dataclass(frozen=True)
class Span:
    """A region of one source file; lines and columns are 1-based."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int  # exclusive

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Label:
    span: Span
    message: str


LEVELS = ("error", "warning", "note")  # the codes start with E, W and N


@dataclass
class Diagnostic:
    level: str  # "error" | "warning" | "note": legal, but worth knowing (`cnnc check --strict` refuses it)
    code: str
    message: str
    span: Span | None = None
    labels: list[Label] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    help: str | None = None

    @property
    def is_error(self) -> bool:
        return self.level == "error"

    def to_json(self) -> dict:
        out: dict = {"level": self.level, "code": self.code, "message": self.message}
        if self.span:
            out.update(file=self.span.file, line=self.span.line, column=self.span.column)
        if self.notes:
            out["notes"] = list(self.notes)
        if self.help:
            out["help"] = self.help
        return out


class CnncError(Exception):
    """Raised with the diagnostics that stop a stage."""

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic]):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("; ".join(f"{d.code}: {d.message}" for d in self.diagnostics))


def error(code: str, message: str, span: Span | None = None, **extra) -> CnncError:
    return CnncError(Diagnostic("error", code, message, span, **extra))


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A `help:` line naming the closest candidate, if any is close."""
    return _closest(word, tuple(sorted(set(candidates))))


@functools.lru_cache(maxsize=256)
def _closest(word: str, candidates: tuple[str, ...]) -> str | None:
    # Cached: a mistake inside a loop asks the same question on every pass, and difflib is slow.
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"did you mean `{match[0]}`?" if match else None


# --- rendering ---------------------------------------------------------------


class SourceCache:
    """Source texts by file name, for rendering the user's own lines."""

    def __init__(self) -> None:
        self._texts: dict[str, list[str]] = {}

    def add(self, file: str, text: str) -> None:
        # Lines as the parser counts them: only `\n` ends one.  `splitlines` also breaks at a form
        # feed, U+2028 and a few more, which shifted every later line shown under a diagnostic.
        self._texts[file] = [line.removesuffix("\r") for line in text.split("\n")]

    def line(self, file: str, number: int) -> str | None:
        lines = self._texts.get(file)
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]


# ANSI styles, used only when the caller asks for colour (a terminal, NO_COLOR unset).
_STYLE = {"error": "1;31", "warning": "1;33", "note": "1;36", "frame": "1;34", "bold": "1", "help": "32"}

# Characters that a terminal may take as a line or page break: shown as a space, one for one.
_BREAKS = str.maketrans({c: " " for c in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\r"})


def _paint(text: str, style: str, color: bool) -> str:
    return f"\x1b[{_STYLE[style]}m{text}\x1b[0m" if color and text else text


def use_color(stream) -> bool:
    """Colour for a terminal, unless NO_COLOR is set to anything (https://no-color.org)."""
    return not os.environ.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty()


def _caret_block(
    span: Span, sources: SourceCache, gutter: int, mark: str, label: str = "", style: str = "", color: bool = False
) -> list[str]:
    text = sources.line(span.file, span.line)
    if text is None:
        return []
    pad = " " * gutter
    start = span.column - 1
    end = span.end_column - 1 if span.end_line == span.line else len(text)
    width = max(1, end - start)
    if len(text) > MAX_SHOWN_LINE:  # a window around the caret, never a 64 MB line
        left = max(0, min(start - MAX_SHOWN_LINE // 4, len(text) - MAX_SHOWN_LINE))
        shown = text[left : left + MAX_SHOWN_LINE]
        prefix = "..." if left else ""
        text = prefix + shown + ("..." if left + MAX_SHOWN_LINE < len(text) else "")
        start = start - left + len(prefix)
        width = max(1, min(width, len(prefix) + MAX_SHOWN_LINE - start))
    text = text.translate(_BREAKS)
    underline = (mark * width + (f" {label}" if label else "")).rstrip()
    bar = _paint("|", "frame", color)
    return [
        f"{_paint(f'{span.line:>{gutter}}', 'frame', color)} {bar} {text}",
        f"{pad} {bar} {' ' * start}{_paint(underline, style or 'frame', color)}",
    ]


def render(diag: Diagnostic, sources: SourceCache, color: bool = False) -> str:
    """Render one diagnostic as text: header, location, source with caret, notes (ANSI colour if asked)."""
    level = diag.level if diag.level in _STYLE else "bold"
    lines = [f"{_paint(f'{diag.level}[{diag.code}]', level, color)}{_paint(': ' + diag.message, 'bold', color)}"]
    spans = [diag.span] + [label.span for label in diag.labels] if diag.span else []
    gutter = max((len(str(s.line)) for s in spans), default=1)
    pad = " " * gutter
    bar = _paint("|", "frame", color)
    if diag.span:
        lines.append(f"{pad}{_paint('-->', 'frame', color)} {diag.span}")
        lines.append(f"{pad} {bar}")
        lines += _caret_block(diag.span, sources, gutter, "^", style=level, color=color)
        for label in diag.labels:
            if label.span.file != diag.span.file:
                lines.append(f"{pad}{_paint(':::', 'frame', color)} {label.span}")
            lines += _caret_block(label.span, sources, gutter, "-", label.message, color=color)
        lines.append(f"{pad} {bar}")
    for note in diag.notes:
        lines.append(f"{pad} {_paint('=', 'frame', color)} {_paint('note', 'bold', color)}: {note}")
    if diag.help:
        lines.append(f"{pad} {_paint('=', 'frame', color)} {_paint('help', 'help', color)}: {diag.help}")
    return "\n".join(lines)


def render_all(diags: Iterable[Diagnostic], sources: SourceCache, color: bool = False) -> str:
    """Every diagnostic up to `MAX_DIAGNOSTICS`, then how many more there are, then the counts."""
    diags = list(diags)
    parts = [render(d, sources, color) for d in diags[:MAX_DIAGNOSTICS]]
    hidden = diags[MAX_DIAGNOSTICS:]
    hidden_errors = sum(d.is_error for d in hidden)
    if hidden:
        what = "errors" if hidden_errors == len(hidden) else "diagnostics"
        parts.append(f"{len(hidden)} more {what} not shown")
    summary = []
    for level in LEVELS:
        count = sum(d.level == level for d in diags)
        if count:
            summary.append(f"{count} {level}{'s' * (count != 1)}")
    if summary:
        parts.append(" and ".join(summary) + " emitted")
    return "\n\n".join(parts)
