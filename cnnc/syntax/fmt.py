"""`cnnc fmt`: the canonical layout of a spec.

The formatter works from the concrete parse (the same grammar with every token kept, so the
author's parentheses survive) and lays it out with `layout.Writer`, which puts the comments
back: the grammar drops them, so they are recovered from the source text.

The layout: two spaces per block level, one statement per line (`;` dropped), single spaces
around operators, `->`, `=` and `:`, none inside brackets or around a keyword argument's `=`,
no trailing commas but a one-item tuple's; a body with one simple statement that the author
wrote on one line stays `{ stmt }`; `else` follows a multi-line body's `}` and starts its own
line after a one-line body.  Chains break before `->` and lists after `,`: where the author
broke them, where a comment ends the line, and where a line would pass 120 columns (see
layout.py).  At most one blank line in a row, one between top-level definitions.

`format_source` checks its own work: the result must parse to the same AST (spans aside) and
keep every comment, otherwise it raises `FormatError` rather than change a spec's meaning.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import deque

from lark import Lark, Token, Tree

from cnnc.diagnostics import CnncError, Diagnostic, Span
from cnnc.syntax.layout import WIDTH, Doc, Join, Pos, Seq, Text, Writer, find_comments, flat
from cnnc.syntax.parser import GRAMMAR, parse

INDENT = 2
SIMPLE = {"input_stmt", "assign_stmt", "output_stmt", "return_stmt", "shared_stmt", "assert_stmt", "chain_stmt"}
# Binary operators as the grammar names them; the operator is always the middle child.
BINARY = {"binop", "compare", "pow_op", "or_op", "and_op"}


class FormatError(Exception):
    """The formatter would have changed a spec's meaning or lost a comment (a bug in cnnc)."""


@functools.cache
def _concrete_parser() -> Lark:
    return Lark(
        GRAMMAR.read_text(),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=True,
        keep_all_tokens=True,
        cache=True,
    )


def _pos(node: Tree | Token) -> Pos:
    if isinstance(node, Token):
        return (node.line, node.column)
    return (node.meta.line, node.meta.column)


def _end_line(node: Tree | Token) -> int:
    return node.end_line if isinstance(node, Token) else node.meta.end_line


def _tok(token: Token) -> Text:
    return Text(str(token), _pos(token))


def _subtrees(node: Tree) -> list[Tree]:
    return [c for c in node.children if isinstance(c, Tree)]


def _join(kind: str, items: list[Tree], head: Tree | None = None) -> Join:
    """Items (and a chain's head) as a Join, remembering where the author broke the line."""
    previous = [head] if head is not None else []
    breaks = []
    for item in items:
        breaks.append(bool(previous) and _pos(item)[0] > _end_line(previous[-1]))
        previous.append(item)
    return Join(kind, [expr(i) for i in items], breaks, expr(head) if head is not None else None)


def _bracketed(open_: Token, items: list[Tree], close: Token, one_tuple: bool = False) -> Seq:
    inner: Doc = _join("items", items) if items else Seq([])
    return Seq([_tok(open_), inner, Text(",") if one_tuple else Seq([]), _tok(close)])


def expr(node: Tree | Token) -> Doc:
    """The document of an expression, argument, parameter or chain step."""
    if isinstance(node, Token):
        return _tok(node)
    c = node.children
    kind = node.data
    if kind in BINARY:
        return Seq([expr(c[0]), Text(" "), _tok(c[1]), Text(" "), expr(c[2])])
    if kind in ("chain", "chain_stmt"):
        return _join("chain", [s for s in c[2::2]], c[0])
    if kind in ("call", "list_expr", "tuple_expr", "atom", "index", "attr"):
        return _bracket_expr(node)
    if kind in _ATOMS:
        return _tok(c[0])
    if kind in _PIECES:
        return _PIECES[kind](c)
    raise AssertionError(f"fmt: no layout for {kind}")  # pragma: no cover - the grammar has no other rule


def _bracket_expr(node: Tree) -> Doc:
    c = node.children
    if node.data == "call":
        args = _subtrees(c[2]) if c[2] is not None else []
        return Seq([_tok(c[0]), _bracketed(c[1], args, c[3])])
    if node.data == "attr":
        return Seq([expr(c[0]), Text("."), _tok(c[2])])
    if node.data == "index":
        return Seq([expr(c[0]), _bracketed(c[1], [c[2]], c[3])])
    items = [x for x in c[1:-1] if isinstance(x, Tree)]
    one_tuple = node.data == "tuple_expr" and len(items) == 1
    return _bracketed(c[0], items, c[-1], one_tuple)


def _call_step(c: list) -> Doc:
    name, open_, args, close, star, count, as_, alias = c
    parts: list[Doc] = [_tok(name)]
    if open_ is not None:
        parts.append(_bracketed(open_, _subtrees(args) if args is not None else [], close))
    if star is not None:
        parts += [Text(" "), _tok(star), Text(" "), expr(count)]
    if as_ is not None:
        parts += [Text(" "), _tok(as_), Text(" "), _tok(alias)]
    return Seq(parts)


def _group_step(c: list) -> Doc:
    """`(a -> b) as name`: the steps wrap like a chain's, inside the brackets."""
    open_, steps, close, as_, alias = c[0], [x for x in c[1:-3] if isinstance(x, Tree)], c[-3], c[-2], c[-1]
    return Seq(
        [_tok(open_), _join("chain", steps[1:], steps[0]), _tok(close), Text(" "), _tok(as_), Text(" "), _tok(alias)]
    )


def _param(c: list) -> Doc:
    name, colon, typ, equals, default = c
    parts: list[Doc] = [_tok(name)]
    if colon is not None:
        parts += [Text(":"), Text(" "), _tok(typ)]
    if equals is not None:
        parts += [Text(" = ") if colon is not None else Text("="), expr(default)]
    return Seq(parts)


def _spaced(*pieces) -> Seq:
    """Tokens and subtrees with single spaces between them."""
    parts: list[Doc] = []
    for piece in pieces:
        if piece is None:
            continue
        if parts:
            parts.append(Text(" "))
        parts.append(expr(piece))
    return Seq(parts)


_ATOMS = {"number", "shape_literal", "string", "true", "false", "name", "in_ref"}
_PIECES = {
    "ternary_expr": lambda c: _spaced(*c),
    "not_op": lambda c: _spaced(*c),
    "neg": lambda c: Seq([_tok(c[0]), expr(c[1])]),
    "unary": lambda c: Seq([_tok(c[0]), expr(c[1])]),
    "positional_arg": lambda c: expr(c[0]),
    "keyword_arg": lambda c: Seq([_tok(c[0]), Text("="), expr(c[2])]),
    "call_step": _call_step,
    "group_step": _group_step,
    "output_step": lambda c: _spaced(*c),
    "repeat_count": lambda c: Seq([_tok(c[0]), expr(c[1]), _tok(c[2])]),
    "param": _param,
    # simple statements
    "input_stmt": lambda c: Seq([_tok(c[0]), Text(" "), _tok(c[1]), _tok(c[2]), Text(" "), expr(c[3])]),
    "assign_stmt": lambda c: _spaced(*c),
    "output_stmt": lambda c: _spaced(*c),
    "return_stmt": lambda c: _spaced(*c),
    "shared_stmt": lambda c: _spaced(*c),
    "assert_stmt": lambda c: (
        Seq([_spaced(c[0], c[1]), Text(", "), expr(c[3])]) if c[3] is not None else _spaced(c[0], c[1])
    ),
    "import_item": lambda c: _spaced(*c),
    "const_def": lambda c: _spaced(*c),
    "single_target": lambda c: _tok(c[0]),
    "tuple_target": lambda c: _bracketed(c[0], [t for t in c[1:-1] if t != ","], c[-1]),
}


# --- statements ---------------------------------------------------------------------


def _statements(body: Tree) -> list[Tree]:
    return [s for s in _subtrees(body) if s.data != "empty_stmt"]


def _one_line_body(w: Writer, body: Tree) -> bool:
    """A body the author wrote on one line, with at most one simple statement, stays so if it fits."""
    open_, close = body.children[0], body.children[-1]
    stmts = _statements(body)
    if open_.line != close.line or len(stmts) > 1 or any(s.data not in SIMPLE for s in stmts):
        return False
    if w.comment_before(_pos(close)):
        return False
    inner = " ".join(flat(expr(s)) for s in stmts)
    return w.col + len(f" {{ {inner} }}") <= WIDTH


def write_body(w: Writer, body: Tree, indent: int) -> bool:
    """Write `{ ... }` after a header; says whether it went on one line."""
    open_, close = body.children[0], body.children[-1]
    if _one_line_body(w, body):
        stmts = _statements(body)
        w.write(" ")
        w.write("{", _pos(open_))
        for stmt in stmts:
            w.write(" ")
            w.layout(expr(stmt))
        w.write(" }" if stmts else "}", _pos(close))
        return True
    w.write(" ")
    w.write("{", _pos(open_))
    w.suppress_blank = True  # never a blank line after `{`
    w.anchors.append(indent + INDENT)
    for stmt in _statements(body):
        write_statement(w, stmt, indent + INDENT)
    w.flush_comments(_pos(close))
    w.anchors.pop()
    w.want_blank = False  # never a blank line before `}`
    w.break_line(indent)
    w.write("}", _pos(close))
    return False


def write_statement(w: Writer, stmt: Tree, indent: int) -> None:
    """One statement (or top-level item) on a line of its own, a compound one with its body."""
    w.anchors.append(indent)
    w.flush_comments(_pos(stmt))  # the comments above it, at its indentation
    w.blank_line_if_source_had_one(_pos(stmt)[0])
    w.break_line(indent)
    if stmt.data in _COMPOUND:
        _COMPOUND[stmt.data](w, stmt, indent)
    else:
        w.layout(expr(stmt))
    w.anchors.pop()


def _write_if(w: Writer, stmt: Tree, indent: int) -> None:
    keyword, cond, body, else_part = stmt.children
    w.write("if ", _pos(keyword))
    w.layout(expr(cond))
    one_line = write_body(w, body, indent)
    if else_part is None:
        return
    if one_line:
        w.break_line(indent)
    else:
        w.write(" ")
    w.write("else", _pos(else_part.children[0]))
    rest = else_part.children[1]
    if else_part.data == "else_if":
        w.write(" ")
        _write_if(w, rest, indent)
    else:
        write_body(w, rest, indent)


def _write_for(w: Writer, stmt: Tree, indent: int) -> None:
    keyword, targets, in_, iterable, body = stmt.children
    w.write("for ", _pos(keyword))
    w.layout(expr(targets))
    w.write(" in ", _pos(in_))
    w.layout(expr(iterable))
    write_body(w, body, indent)


def _write_repeat(w: Writer, stmt: Tree, indent: int) -> None:
    keyword, count, body = stmt.children
    w.write("repeat ", _pos(keyword))
    w.layout(expr(count))
    write_body(w, body, indent)


def _write_definition(w: Writer, node: Tree, indent: int) -> None:
    *keywords, name, open_, params, close, body = node.children
    for keyword in (k for k in keywords if k is not None):  # `sequential block`: two keywords
        w.write(f"{keyword} ", _pos(keyword))
    w.write(str(name), _pos(name))
    w.layout(_bracketed(open_, _subtrees(params) if params is not None else [], close))
    write_body(w, body, indent)


_COMPOUND = {
    "if_stmt": _write_if,
    "for_stmt": _write_for,
    "repeat_stmt": _write_repeat,
    "block_def": _write_definition,
    "network_def": _write_definition,
}
DEFINITIONS = ("block_def", "network_def")


def _write_module(w: Writer, tree: Tree) -> None:
    previous: Tree | None = None
    for item in tree.children:
        if previous is not None and DEFINITIONS.count(item.data) + DEFINITIONS.count(previous.data):
            w.want_blank = True  # one blank line around every definition
        write_statement(w, item, 0)
        previous = item
    w.flush_comments((1 << 30, 0))


def format_tree(source: str, tree: Tree) -> str:
    """Lay out a concrete parse tree of `source`, its comments put back."""
    w = Writer(deque(find_comments(source)))
    _write_module(w, tree)
    return w.text() if w.lines or not w.fresh() else ""


def format_source(source: str, file: str = "<spec>") -> str:
    """The canonical layout of a spec; raises `CnncError` for a syntax error or a spec nested
    too deeply to lay out (E0601, as `cnnc check` refuses it)."""
    before = parse(source, file)
    tree = _concrete_parser().parse(source)  # parse() above has reported any syntax error
    try:
        result = format_tree(source, tree)
        return _checked(source, file, before, result)
    except RecursionError:
        raise CnncError(
            Diagnostic(
                "error",
                "E0601",
                "the spec nests too deeply to format",
                Span(file, 1, 1, 1, 2),
                notes=["expressions nested thousands deep are beyond every cnnc tool"],
            )
        ) from None


def _checked(source: str, file: str, before: object, result: str) -> str:
    try:
        after = parse(result, file)
    except CnncError as exc:
        raise FormatError(f"fmt produced a spec that does not parse: {exc.diagnostics[0].message}") from None
    if _without_spans(before) != _without_spans(after):
        raise FormatError("fmt changed the meaning of the spec")
    if [c.text for c in find_comments(source)] != [c.text for c in find_comments(result)]:
        raise FormatError("fmt lost or reordered a comment")
    return result


def _without_spans(node: object) -> object:
    """An AST as plain data, spans dropped: what must not change when only the layout does."""
    if dataclasses.is_dataclass(node):
        return (type(node).__name__,) + tuple(
            _without_spans(getattr(node, f.name))
            for f in dataclasses.fields(node)
            if f.name not in ("span", "file") and not f.name.endswith("_span")
        )
    if isinstance(node, (list, tuple)):
        return tuple(_without_spans(x) for x in node)
    return node
