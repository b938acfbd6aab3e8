"""Parse `.cnn` text into AST dataclasses with spans (Lark, LALR)."""

from __future__ import annotations

import functools
import gc
import re
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from cnnc import limits
from cnnc.diagnostics import CnncError, Diagnostic, Span
from cnnc.limits import MAX_LITERAL_CHARS, MAX_SOURCE_BYTES, parse_int, too_many_tokens
from cnnc.syntax import ast
from cnnc.syntax.characters import character_error
from cnnc.syntax.positions import Items, end, keep_children, start

GRAMMAR = Path(__file__).with_name("grammar.lark")


def _token_span(file: str, tok: Token) -> Span:
    return Span(file, tok.line, tok.column, tok.end_line, tok.end_column)


def _unquote(text: str, span: Span) -> str:
    body = text[1:-1]
    if "\\" not in body:
        return body
    try:
        return body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError as exc:  # `"\x"`, `"\N{nope}"`: not the file's encoding, the string's
        raise CnncError(
            Diagnostic(
                "error", "E0001", f"bad escape in string: {exc.reason}", span, help="write a backslash as `\\\\`"
            )
        ) from None


class _ToAst:
    """Builds AST nodes while the LALR parser reduces: one method per rule, called with its children.

    Lark calls a method as it reduces the rule (`Lark(transformer=...)`), so no parse tree is
    built and walked a second time: on a 10,000-layer spec that was two thirds of the parse.
    Spans are what `propagate_positions` gave: from the rule's first token to its last, the
    filtered-out punctuation (`)`, `}`) included.  `_parser` wraps each rule's callback to
    record the unfiltered children in `self.children` before the method runs (`cnnc.syntax.positions`);
    `s()` reads them.
    A rule reduces without reducing another inside it, so one slot is enough.
    """

    def __init__(self) -> None:
        self.file = "<spec>"
        self.children: list = []

    def s(self) -> Span:
        (line, column), (end_line, end_column) = start(self.children), end(self.children)
        return Span(self.file, line, column, end_line, end_column)

    def items(self, items) -> Items:
        return Items(items, self.s() if self.children else None)

    # --- module ---
    def start(self, items):
        module = ast.Module(self.file)
        for item in items:
            if isinstance(item, ast.Import):
                module.imports.append(item)
            elif isinstance(item, ast.Const):
                module.consts.append(item)
            else:
                module.definitions.append(item)
        return module

    def import_item(self, c):
        return ast.Import(_unquote(c[0], _token_span(self.file, c[0])), self.s())

    def const_def(self, c):
        return ast.Const(str(c[0]), c[1], self.s())

    def _definition(self, kind, c):
        name, params, body = c
        return ast.Definition(kind, str(name), params or [], body, self.s(), _token_span(self.file, name))

    def block_def(self, c):
        definition = self._definition("block", c[1:])
        definition.sequential = c[0] is not None
        return definition

    def network_def(self, c):
        return self._definition("network", c)

    def params(self, c):
        return self.items(c)

    def param(self, c):
        name, typ, default = c
        return ast.Param(str(name), str(typ) if typ else None, default, self.s())

    def body(self, c):
        return self.items(stmt for stmt in c if stmt is not None)

    # --- statements ---
    def empty_stmt(self, c):
        return None

    def input_stmt(self, c):
        return ast.InputStmt(str(c[0]), c[1], self.s())

    def assign_stmt(self, c):
        return ast.Assign(str(c[0]), c[1], self.s())

    def output_stmt(self, c):
        return ast.OutputStmt(str(c[0]), self.s())

    def return_stmt(self, c):
        return ast.Return(c[0], self.s())

    def if_stmt(self, c):
        cond, then, otherwise = c
        return ast.If(cond, then, otherwise or [], self.s())

    def else_if(self, c):
        return self.items(c[:1])

    def for_stmt(self, c):
        return ast.For(c[0], c[1], c[2], self.s())

    def single_target(self, c):
        return [str(c[0])]

    def tuple_target(self, c):
        return [str(t) for t in c]

    def repeat_stmt(self, c):
        return ast.Repeat(c[0], c[1], self.s())

    def shared_stmt(self, c):
        return ast.Shared(str(c[0]), c[1], self.s())

    def assert_stmt(self, c):
        return ast.Assert(c[0], c[1], self.s())

    def chain_stmt(self, c):
        span = self.s()
        return ast.ChainStmt(ast.Chain(c[0], list(c[1:]), span), span)

    # --- chains ---
    def chain(self, c):
        return ast.Chain(c[0], list(c[1:]), self.s())

    def call_step(self, c):
        name, args, repeat, alias = c
        span = self.s()  # before the template: its `{...}` parts are parsed by the same builder
        return ast.CallStep(
            str(name),
            args,
            repeat,
            str(alias) if alias else None,
            span,
            _token_span(self.file, name),
            self.template(alias),
        )

    def group_step(self, c):
        span = self.s()  # before the template: its `{...}` parts are parsed by the same builder
        return ast.GroupStep(list(c[:-1]), str(c[-1]), span, self.template(c[-1]))

    def template(self, alias: Token | None) -> ast.NameTemplate | None:
        """`conv_dw_{i + 1}_bn` -> ["conv_dw_", i + 1, "_bn"]; each `{...}` parsed as an expression."""
        if alias is None or alias.type != "TEMPLATE":
            return None
        parts: list[str | ast.Expr] = []
        for match in re.finditer(r"\{([^{}]*)\}|[^{}]+", str(alias)):
            if match.group(1) is None:
                parts.append(match.group(0))
                continue
            # padded to the token's place, so the expression's spans point into the file
            column = alias.column + match.start(1)
            text = "\n" * (alias.line - 1) + " " * (column - 1) + match.group(1)
            if not match.group(1).strip():
                span = Span(self.file, alias.line, column - 1, alias.line, column + len(match.group(1)) + 1)
                raise CnncError(
                    Diagnostic(
                        "error", "E0235", "empty `{}` in a name", span, help="write an expression inside: `block_{i}`"
                    )
                )
            parts.append(_parse_expr(text, self.file))
        return ast.NameTemplate(parts, _token_span(self.file, alias))

    def output_step(self, c):
        return ast.OutputStep(str(c[0]), self.s())

    # --- expressions ---
    def integer(self, text: str) -> int:
        # Python refuses to convert more than 4,300 digits; cnnc's numbers stay below 2^62 anyway.
        if parse_int(text) is None:
            raise CnncError(
                Diagnostic(
                    "error",
                    "E0601",
                    "number out of range",
                    self.s(),
                    notes=["cnnc's numbers stay below 2^62 in magnitude"],
                )
            )
        return int(text)

    def number(self, c):
        text = str(c[0])
        if len(text) > MAX_LITERAL_CHARS:  # float() of a long literal is slow, and its digits meaningless
            return ast.Literal(self.integer(text), self.s())
        value = self.integer(text) if text.isdigit() else float(text)
        return ast.Literal(value, self.s())

    def shape_literal(self, c):
        return ast.ShapeLiteral(tuple(self.integer(d) for d in str(c[0]).split("x")), self.s())

    def string(self, c):
        return ast.Literal(_unquote(str(c[0]), self.s()), self.s())

    def true(self, c):
        return ast.Literal(True, self.s())

    def false(self, c):
        return ast.Literal(False, self.s())

    def name(self, c):
        return ast.Name(str(c[0]), self.s())

    def in_ref(self, c):
        return ast.InRef(self.s())

    def attr(self, c):
        return ast.Attr(c[0], str(c[1]), self.s())

    def index(self, c):
        return ast.Index(c[0], c[1], self.s())

    def call(self, c):
        name, args = c
        return ast.Call(str(name), args or [], self.s(), _token_span(self.file, name))

    def args(self, c):
        return self.items(c)

    def positional_arg(self, c):
        return ast.Arg(None, c[0], self.s())

    def keyword_arg(self, c):
        return ast.Arg(str(c[0]), c[1], self.s())

    def list_expr(self, c):
        return ast.ListExpr([x for x in c if x is not None], self.s())

    def tuple_expr(self, c):
        return ast.TupleExpr(list(c), self.s())

    def ternary_expr(self, c):
        return ast.Ternary(c[0], c[1], c[2], self.s())

    def binop(self, c):
        return ast.BinOp(str(c[1]), c[0], c[2], self.s())

    def compare(self, c):
        return self.binop(c)

    def pow_op(self, c):
        return ast.BinOp("**", c[0], c[2], self.s())

    def or_op(self, c):
        return ast.BinOp("or", c[0], c[1], self.s())

    def and_op(self, c):
        return ast.BinOp("and", c[0], c[1], self.s())

    def not_op(self, c):
        return ast.UnaryOp("not", c[0], self.s())

    def neg(self, c):
        return ast.UnaryOp("-", c[0], self.s())


@functools.cache
def _grammar_text() -> str:
    return GRAMMAR.read_text()


@functools.cache
def _parser() -> tuple[Lark, _ToAst]:
    """The LALR parser, building the AST as it reduces (see `_ToAst`), and its builder."""
    builder = _ToAst()
    # cache=True keeps the LALR tables in the temp folder: a cold `cnnc check`
    # then skips the grammar analysis (about 0.2 s).
    parser = Lark(
        _grammar_text(),
        parser="lalr",
        maybe_placeholders=True,
        cache=True,
        transformer=builder,
        start=["start", "expr"],  # `expr`: the `{...}` parts of a name template
    )
    # Lark's callback of a rule filters out the punctuation before the method sees it; the span
    # needs it, so each callback is wrapped to keep the unfiltered children first, in the dict
    # the LALR parser reduces with (frontend -> LALR_Parser -> its parser; lark 1.3.1, pinned).
    keep_children(parser.parser.parser.parser.callbacks, builder)
    return parser, builder


def _parse_expr(text: str, file: str) -> ast.Expr:
    """One expression of a name template (its text padded to its place in the file).

    Called while the outer parse reduces a step: the builder is shared, its file is the same,
    and the step took its span before calling here.
    """
    parser, _ = _parser()
    try:
        return parser.parse(text, start="expr")
    except UnexpectedInput as exc:
        raise CnncError(_syntax_error(exc, file, parser)) from None


_FRIENDLY = {
    "NAME": "a name",
    "INT": "a number",
    "NUMBER": "a number",
    "SHAPE": "a shape like 32x32x3",
    "STRING": "a string",
    "COMP_OP": "a comparison",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*` or `/`",
    "$END": "the end of the file",
}


def _describe(parser: Lark, terminal: str) -> str:
    if terminal in _FRIENDLY:
        return _FRIENDLY[terminal]
    try:
        pattern = parser.get_terminal(terminal).pattern
    except KeyError:
        return terminal.lower()
    return f"`{pattern.value}`" if pattern.type == "str" else terminal.lower()


def _syntax_error(exc: UnexpectedInput, file: str, parser: Lark) -> Diagnostic:
    line, col = max(exc.line, 1), max(exc.column, 1)
    if isinstance(exc, UnexpectedCharacters):
        char = exc.char if hasattr(exc, "char") else "?"
        if not char.isascii():
            return character_error(char, Span(file, line, col, line, col + 1))
        return Diagnostic("error", "E0001", f"unexpected character `{char}`", Span(file, line, col, line, col + 1))
    expected = sorted({_describe(parser, t) for t in getattr(exc, "expected", set()) or set()})
    if isinstance(exc, UnexpectedEOF):
        return Diagnostic(
            "error",
            "E0001",
            "unexpected end of file",
            Span(file, line, col, line, col + 1),
            notes=[f"expected {_join(expected)}"] if expected else [],
        )
    token: Token = exc.token  # type: ignore[attr-defined]
    found = "end of file" if token.type == "$END" else f"`{token}`"
    width = max(1, len(str(token))) if token.type != "$END" else 1
    diag = Diagnostic("error", "E0001", f"unexpected {found}", Span(file, line, col, line, col + width))
    if expected:
        diag.notes.append(f"expected {_join(expected)}")
    diag.help = _syntax_help(str(token), token.type, expected)
    return diag


def _join(items: list[str]) -> str:
    if len(items) > 8:
        items = items[:8] + ["..."]
    return ", ".join(items[:-1]) + (" or " if len(items) > 1 else "") + items[-1]


def _syntax_help(text: str, kind: str, expected: list[str]) -> str | None:
    if text == ">" and "`->`" not in expected:
        return "chains are written with `->`"
    if text in ("=>", ":") and "`->`" in expected:
        return "chains are written with `->`"
    if kind == "NAME" and "`,`" in expected:
        return "arguments are separated by `,`"
    if kind == "$END" and "`}`" in expected:
        return "a `{` is never closed"
    return None


def parse(text: str, file: str = "<spec>") -> ast.Module:
    """Parse one spec; raises `CnncError` with a syntax diagnostic."""
    if len(text.encode("utf-8", "replace")) > MAX_SOURCE_BYTES:
        raise CnncError(
            Diagnostic(
                "error", "E0601", f"the spec is larger than {MAX_SOURCE_BYTES >> 20} MiB", Span(file, 1, 1, 1, 2)
            )
        )
    if too_many_tokens(text):  # refuse before the parser starts: every accepted spec parses in about a second
        raise CnncError(
            Diagnostic(
                "error",
                "E0601",
                f"the spec has more than {limits.MAX_TOKENS:,} tokens",
                Span(file, 1, 1, 1, 2),
                notes=["a 10,000-layer chain written out has about 63,000"],
            )
        )
    parser, builder = _parser()
    builder.file = file
    collecting = gc.isenabled()
    # Parsing makes many small objects and no cycles; the cyclic collector's passes over the
    # growing heap made parse time grow 1.5x faster than the spec (50,000 layers against 1,000).
    gc.disable()
    try:
        return parser.parse(text, start="start")
    except UnexpectedInput as exc:
        raise CnncError(_syntax_error(exc, file, parser)) from None
    finally:
        builder.children = []  # nothing of this text kept alive by the cached builder
        if collecting:
            gc.enable()
