"""Spans of the rules the LALR parser reduces, as Lark's `propagate_positions` computes them.

The parser builds the AST as it reduces (`cnnc.syntax.parser._ToAst`), without a parse tree.
A rule's span runs from its first token to its last, punctuation included (the `)` of a call,
the `}` of a body), but Lark filters punctuation out before a rule's method sees its children.
`keep_children` wraps each rule's callback so that the builder holds the unfiltered children
while the method runs; `start` and `end` read a span's ends from them.

Two cases need more than the children's own spans, as in Lark:
- a value passed up unchanged by a `?rule` that also matched punctuation (`(kernel - 1)`) keeps
  its own span, but the rule it is part of starts at the `(`: the value's `container`;
- a sequence Lark inlines (`("->" step)+`) is a Tree spliced into its rule later: its meta
  gets its extent.
"""

from __future__ import annotations

from lark import Token, Tree

from cnnc.diagnostics import Span


class Items(list):
    """A rule's list of results (statements, parameters, arguments) with the rule's span."""

    __slots__ = ("span", "container")

    def __init__(self, items, span: Span | None):
        super().__init__(items)
        self.span = span


def start(children) -> tuple[int, int] | None:
    """Line and column where the first of `children` that has a position starts."""
    for child in children:
        if isinstance(child, Token):
            return child.line, child.column
        if isinstance(child, Tree):  # a sequence rule Lark inlines (`("->" step)+`)
            if not child.meta.empty:
                return child.meta.line, child.meta.column
            continue
        span = getattr(child, "container", None) or getattr(child, "span", None)  # AST node, Items
        if span is not None:
            return span.line, span.column
    return None


def end(children) -> tuple[int, int] | None:
    """Line and column (exclusive) where the last of `children` that has a position ends."""
    for child in reversed(children):
        if isinstance(child, Token):
            return child.end_line, child.end_column
        if isinstance(child, Tree):
            if not child.meta.empty:
                return child.meta.end_line, child.meta.end_column
            continue
        span = getattr(child, "container", None) or getattr(child, "span", None)
        if span is not None:
            return span.end_line, span.end_column
    return None


def keep_children(callbacks: dict, builder) -> None:
    """Wrap every rule's callback in `callbacks` (the dict the LALR parser reduces with, in place)
    to set `builder.children` to the rule's unfiltered children first."""
    for rule, callback in callbacks.items():
        if isinstance(rule, str):  # a lexer callback, not a grammar rule
            continue
        wrap = _keeping_container if rule.options.expand1 else _keeping_children
        callbacks[rule] = wrap(builder, callback)


def _keeping_children(builder, callback):
    def reduce(children):
        builder.children = children
        result = callback(children)
        if type(result) is Tree:  # the parts of a sequence, spliced into the rule that holds it
            _place(result.meta, children)
        return result

    return reduce


def _place(meta, children) -> None:
    first, last = start(children), end(children)
    if first is not None:
        meta.line, meta.column = first
        meta.end_line, meta.end_column = last
        meta.empty = False


def _keeping_container(builder, callback):
    """A `?rule`: what it passes up unchanged from among punctuation gets the punctuation's extent."""

    def reduce(children):
        builder.children = children
        result = callback(children)
        if len(children) > 1 and any(result is child for child in children):
            (line, column), (end_line, end_column) = start(children), end(children)
            result.container = Span(builder.file, line, column, end_line, end_column)
        return result

    return reduce
