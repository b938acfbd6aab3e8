"""Parse `.cnn` text into AST dataclasses with spans (Lark, LALR)."""

from __future__ import annotations

import functools
from pathlib import Path

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from cnnc.diagnostics import CnncError, Diagnostic, Span
from cnnc.limits import MAX_LITERAL_CHARS, MAX_SOURCE_BYTES, MAX_TOKENS, parse_int, too_many_tokens
from cnnc.syntax import ast

GRAMMAR = Path(__file__).with_name("grammar.lark")


def _span(file: str, meta) -> Span:
    return Span(file, meta.line, meta.column, meta.end_line, meta.end_column)


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


@v_args(meta=True)
class _ToAst(Transformer_NonRecursive):
    """Builds AST nodes from the parse tree.

    Non-recursive, so a deeply nested spec cannot overflow the Python stack.
    """

    def __init__(self, file: str):
        super().__init__()
        self.file = file

    def s(self, meta) -> Span:
        return _span(self.file, meta)

    # --- module ---
    def start(self, meta, items):
        module = ast.Module(self.file)
        for item in items:
            if isinstance(item, ast.Import):
                module.imports.append(item)
            elif isinstance(item, ast.Const):
                module.consts.append(item)
            else:
                module.definitions.append(item)
        return module

    def import_item(self, meta, c):
        return ast.Import(_unquote(c[0], _token_span(self.file, c[0])), self.s(meta))

    def const_def(self, meta, c):
        return ast.Const(str(c[0]), c[1], self.s(meta))

    def _definition(self, kind, meta, c):
        name, params, body = c
        return ast.Definition(kind, str(name), params or [], body, self.s(meta), _token_span(self.file, name))

    def block_def(self, meta, c):
        definition = self._definition("block", meta, c[1:])
        definition.sequential = c[0] is not None
        return definition

    def network_def(self, meta, c):
        return self._definition("network", meta, c)

    def params(self, meta, c):
        return list(c)

    def param(self, meta, c):
        name, typ, default = c
        return ast.Param(str(name), str(typ) if typ else None, default, self.s(meta))

    def body(self, meta, c):
        return [stmt for stmt in c if stmt is not None]

    # --- statements ---
    def empty_stmt(self, meta, c):
        return None

    def input_stmt(self, meta, c):
        return ast.InputStmt(str(c[0]), c[1], self.s(meta))

    def assign_stmt(self, meta, c):
        return ast.Assign(str(c[0]), c[1], self.s(meta))

    def output_stmt(self, meta, c):
        return ast.OutputStmt(str(c[0]), self.s(meta))

    def return_stmt(self, meta, c):
        return ast.Return(c[0], self.s(meta))

    def if_stmt(self, meta, c):
        cond, then, otherwise = c
        return ast.If(cond, then, otherwise or [], self.s(meta))

    def else_if(self, meta, c):
        return [c[0]]

    def for_stmt(self, meta, c):
        return ast.For(c[0], c[1], c[2], self.s(meta))

    def single_target(self, meta, c):
        return [str(c[0])]

    def tuple_target(self, meta, c):
        return [str(t) for t in c]

    def repeat_stmt(self, meta, c):
        return ast.Repeat(c[0], c[1], self.s(meta))

    def shared_stmt(self, meta, c):
        return ast.Shared(str(c[0]), c[1], self.s(meta))

    def assert_stmt(self, meta, c):
        return ast.Assert(c[0], c[1], self.s(meta))

    def chain_stmt(self, meta, c):
        span = self.s(meta)
        return ast.ChainStmt(ast.Chain(c[0], list(c[1:]), span), span)

    # --- chains ---
    def chain(self, meta, c):
        return ast.Chain(c[0], list(c[1:]), self.s(meta))

    def call_step(self, meta, c):
        name, args, repeat, alias = c
        return ast.CallStep(
            str(name), args, repeat, str(alias) if alias else None, self.s(meta), _token_span(self.file, name)
        )

    def group_step(self, meta, c):
        return ast.GroupStep(list(c[:-1]), str(c[-1]), self.s(meta))

    def output_step(self, meta, c):
        return ast.OutputStep(str(c[0]), self.s(meta))

    # --- expressions ---
    def integer(self, text: str, meta) -> int:
        # Python refuses to convert more than 4,300 digits; cnnc's numbers stay below 2^62 anyway.
        if parse_int(text) is None:
            raise CnncError(
                Diagnostic(
                    "error",
                    "E0601",
                    "number out of range",
                    self.s(meta),
                    notes=["cnnc's numbers stay below 2^62 in magnitude"],
                )
            )
        return int(text)

    def number(self, meta, c):
        text = str(c[0])
        if len(text) > MAX_LITERAL_CHARS:  # float() of a long literal is slow, and its digits meaningless
            return ast.Literal(self.integer(text, meta), self.s(meta))
        value = self.integer(text, meta) if text.isdigit() else float(text)
        return ast.Literal(value, self.s(meta))

    def shape_literal(self, meta, c):
        return ast.ShapeLiteral(tuple(self.integer(d, meta) for d in str(c[0]).split("x")), self.s(meta))

    def string(self, meta, c):
        return ast.Literal(_unquote(str(c[0]), self.s(meta)), self.s(meta))

    def true(self, meta, c):
        return ast.Literal(True, self.s(meta))

    def false(self, meta, c):
        return ast.Literal(False, self.s(meta))

    def name(self, meta, c):
        return ast.Name(str(c[0]), self.s(meta))

    def in_ref(self, meta, c):
        return ast.InRef(self.s(meta))

    def attr(self, meta, c):
        return ast.Attr(c[0], str(c[1]), self.s(meta))

    def index(self, meta, c):
        return ast.Index(c[0], c[1], self.s(meta))

    def call(self, meta, c):
        name, args = c
        return ast.Call(str(name), args or [], self.s(meta), _token_span(self.file, name))

    def args(self, meta, c):
        return list(c)

    def positional_arg(self, meta, c):
        return ast.Arg(None, c[0], self.s(meta))

    def keyword_arg(self, meta, c):
        return ast.Arg(str(c[0]), c[1], self.s(meta))

    def list_expr(self, meta, c):
        return ast.ListExpr([x for x in c if x is not None], self.s(meta))

    def tuple_expr(self, meta, c):
        return ast.TupleExpr(list(c), self.s(meta))

    def ternary_expr(self, meta, c):
        return ast.Ternary(c[0], c[1], c[2], self.s(meta))

    def binop(self, meta, c):
        return ast.BinOp(str(c[1]), c[0], c[2], self.s(meta))

    def compare(self, meta, c):
        return self.binop(meta, c)

    def pow_op(self, meta, c):
        return ast.BinOp("**", c[0], c[2], self.s(meta))

    def or_op(self, meta, c):
        return ast.BinOp("or", c[0], c[1], self.s(meta))

    def and_op(self, meta, c):
        return ast.BinOp("and", c[0], c[1], self.s(meta))

    def not_op(self, meta, c):
        return ast.UnaryOp("not", c[0], self.s(meta))

    def neg(self, meta, c):
        return ast.UnaryOp("-", c[0], self.s(meta))


@functools.cache
def _grammar_text() -> str:
    return GRAMMAR.read_text()


@functools.cache
def _parser() -> Lark:
    # cache=True keeps the LALR tables in the temp folder: a cold `cnnc check`
    # then skips the grammar analysis (about 0.2 s).
    return Lark(_grammar_text(), parser="lalr", propagate_positions=True, maybe_placeholders=True, cache=True)


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
    if too_many_tokens(text):  # Lark parses about 40,000 tokens a second: refuse before it starts
        raise CnncError(
            Diagnostic(
                "error",
                "E0601",
                f"the spec has more than {MAX_TOKENS:,} tokens",
                Span(file, 1, 1, 1, 2),
                notes=["a 10,000-layer chain written out has about 63,000"],
            )
        )
    parser = _parser()
    try:
        tree = parser.parse(text)
    except UnexpectedInput as exc:
        raise CnncError(_syntax_error(exc, file, parser)) from None
    try:
        return _ToAst(file).transform(tree)
    except VisitError as exc:  # pragma: no cover - a transformer bug, not a user error
        raise exc.orig_exc from None
