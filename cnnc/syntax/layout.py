"""The formatter's layout engine: a small document model and a line writer that keeps comments.

A document is text with break opportunities.  `Join` is the only place a line may break:
between the steps of a chain (before `->`, continuation aligned under the first arrow) and
between the items of a list (after `,`, aligned under the first item).  A break is taken
where the source had one (the author's grouping, e.g. conv -> batchnorm -> relu per line),
where a comment must end the line, or where the next piece would pass `WIDTH` columns.
Every other break in the source is dropped.  Because a taken break is a source break the
next time, formatting twice gives the same text.

The grammar drops comments, so the writer carries them: each `Text` knows the source
position of its token, and a comment that lies before it in the source is written first,
at the end of the current line (a trailing comment) or on a line of its own.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Union

WIDTH = 120  # the same as the project's ruff line-length; the library's longest line is 116
Pos = tuple[int, int]  # (line, column) in the source, both 1-based


@dataclass
class Text:
    text: str
    pos: Pos | None = None  # where the token was in the source: comments before it are written first


@dataclass
class Seq:
    parts: list[Doc]


@dataclass
class Join:
    """Pieces that may go on one line or several: a chain's steps or a list's items."""

    kind: str  # "chain": " -> " between items; "items": ", " between items
    items: list[Doc]
    breaks: list[bool]  # the source broke the line before item i
    head: Doc | None = None  # a chain's source value


Doc = Union[Text, Seq, Join]

_COMMENT_OR_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


@dataclass
class Comment:
    pos: Pos
    text: str
    own_line: bool  # nothing but spaces before it on its line


def find_comments(source: str) -> list[Comment]:
    """Every comment in the source; strings are skipped because a `#` in one is not a comment."""
    comments = []
    line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
    line = 0
    for match in _COMMENT_OR_STRING.finditer(source):
        if match.group().startswith('"'):
            continue
        while line + 1 < len(line_starts) and line_starts[line + 1] <= match.start():
            line += 1
        before = source[line_starts[line] : match.start()]
        comments.append(Comment((line + 1, len(before) + 1), match.group().rstrip(), not before.strip()))
    return comments


def flat(doc: Doc) -> str:
    """The document on one line: what a piece would take if no break were taken."""
    if isinstance(doc, Text):
        return doc.text
    if isinstance(doc, Seq):
        return "".join(flat(p) for p in doc.parts)
    sep = " -> " if doc.kind == "chain" else ", "
    items = sep.join(flat(i) for i in doc.items)
    if doc.head is None:
        return items
    return flat(doc.head) + " -> " + items


def first_pos(doc: Doc) -> Pos | None:
    """The source position of the first token of a piece."""
    if isinstance(doc, Text):
        return doc.pos
    parts = doc.parts if isinstance(doc, Seq) else ([doc.head] if doc.head else []) + doc.items
    for part in parts:
        pos = first_pos(part)
        if pos is not None:
            return pos
    return None


@dataclass
class Writer:
    """Appends text to lines, writing each comment before the first token that follows it."""

    comments: deque[Comment]
    lines: list[str] = field(default_factory=list)
    line: str = ""
    anchors: list[int] = field(default_factory=lambda: [0])  # where a forced break continues
    last_source_line: int = 0
    want_blank: bool = False
    need_break: bool = False  # a comment ended the line: the next text starts a new one
    suppress_blank: bool = True  # at the top of the file or of a body: no blank line yet
    trailing: dict[int, tuple[int, int]] = field(default_factory=dict)  # line -> (its code's end, source column)

    @property
    def col(self) -> int:
        return len(self.line)

    def fresh(self) -> bool:
        return not self.line.strip()

    def write(self, text: str, pos: Pos | None = None) -> None:
        if pos is not None:
            self.flush_comments(pos)
        if self.need_break:
            self.break_line(self.anchors[-1])
        self.line += text
        self.suppress_blank = False
        if pos is not None:
            self.last_source_line = pos[0]

    def break_line(self, col: int) -> None:
        """End the current line (unless it is still empty) and start the next at column `col`."""
        if not self.fresh():
            self.lines.append(self.line.rstrip())
            if self.want_blank:
                self.lines.append("")
        self.want_blank = False
        self.need_break = False
        self.line = " " * col

    def blank_line_if_source_had_one(self, line: int) -> None:
        if line - self.last_source_line > 1 and not self.suppress_blank:
            self.want_blank = True

    def comment_before(self, pos: Pos | None) -> bool:
        return pos is not None and bool(self.comments) and self.comments[0].pos < pos

    def flush_comments(self, pos: Pos) -> None:
        """Write the comments that come before `pos` in the source."""
        while self.comment_before(pos):
            comment = self.comments.popleft()
            if comment.own_line:
                self.blank_line_if_source_had_one(comment.pos[0])
                self.break_line(self.anchors[-1])
                self.line += comment.text
            elif self.fresh():
                self.line += comment.text
            else:
                self.trailing[len(self.lines)] = (len(self.line.rstrip()), comment.pos[1])
                self.line = self.line.rstrip() + "  " + comment.text
            self.last_source_line = comment.pos[0]
            self.suppress_blank = False
            self.need_break = True

    def layout(self, doc: Doc) -> None:
        if isinstance(doc, Text):
            self.write(doc.text, doc.pos)
        elif isinstance(doc, Seq):
            for part in doc.parts:
                self.layout(part)
        elif doc.kind == "chain":
            self._layout_chain(doc)
        else:
            self._layout_items(doc)

    def _must_break(self, doc: Join, i: int, extra: int, anchor: int) -> bool:
        """Break where the author did, where a comment ends the line, or where the piece would pass
        the width here and fit on a line of its own (else it stays, and breaks inside itself)."""
        if doc.breaks[i] or self.comment_before(first_pos(doc.items[i])):
            return True
        width = extra + len(flat(doc.items[i]))
        return self.col + width > WIDTH and anchor + width - 1 <= WIDTH

    def _take_break(self, doc: Join, i: int, anchor: int) -> None:
        pos = first_pos(doc.items[i])
        if pos is not None:
            self.flush_comments(pos)
        self.break_line(anchor)

    def _layout_chain(self, doc: Join) -> None:
        assert doc.head is not None
        self.layout(doc.head)
        # Continuation lines put `->` under the first arrow; if even the first step goes on the
        # next line, or the first arrow is past the middle of the line, they are indented four
        # spaces past the statement's line instead.
        indented = len(self.line) - len(self.line.lstrip()) + 4
        far = self.col + 1 > WIDTH // 2
        anchor = indented if far or self._must_break(doc, 0, 1 + len("-> "), indented) else self.col + 1
        self.anchors.append(anchor)
        for i, item in enumerate(doc.items):
            if self._must_break(doc, i, 1 + len("-> "), anchor):
                self._take_break(doc, i, anchor)
            else:
                self.write(" ")
            self.write("-> ")
            self.layout(item)
        self.anchors.pop()

    def _layout_items(self, doc: Join) -> None:
        anchor = self.col
        self.anchors.append(anchor)
        for i, item in enumerate(doc.items):
            if i:
                self.write(",")
                if self._must_break(doc, i, 2, anchor):  # the space and the `,` or bracket after it
                    self._take_break(doc, i, anchor)
                else:
                    self.write(" ")
            self.layout(item)
        self.anchors.pop()

    def text(self) -> str:
        if not self.fresh():
            self.lines.append(self.line.rstrip())
        self._align_trailing_comments()
        return "\n".join(self.lines) + "\n"

    def _align_trailing_comments(self) -> None:
        # Trailing comments the author lined up (one column in the source, one paragraph: no blank
        # line between) stay lined up, two spaces past the longest of their lines: the library's
        # specs annotate chains and runs of statements with shapes so.  Any other trailing comment
        # sits two spaces after its code.
        groups: dict[tuple[int, int], list[int]] = {}
        paragraph = 0
        for index in range(len(self.lines)):
            if not self.lines[index]:
                paragraph += 1
            elif index in self.trailing:
                groups.setdefault((paragraph, self.trailing[index][1]), []).append(index)
        for group in groups.values():
            column = max(self.trailing[i][0] for i in group) + 2
            for i in group:
                end = self.trailing[i][0]
                self.lines[i] = self.lines[i][:end].ljust(column) + self.lines[i][end:].lstrip()
