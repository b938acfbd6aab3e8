"""The AST built during LALR parsing is exactly the one built from Lark's tree with propagate_positions.

The parser builds AST nodes as it reduces (no parse tree), reading each rule's unfiltered
children for its span.  This compares it, node for node and span for span (the dataclasses'
equality includes the spans), with the reference way: Lark's parse tree with
`propagate_positions=True`, each tree node handed to the same builder method with the span
Lark's meta gives.  Every spec of the library, the standard library, the examples and the
documentation's examples are compared.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lark import Lark, Token, Transformer

from cnnc.syntax import parser as cnnc_parser
from cnnc.syntax.parser import parse

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(
    [*ROOT.glob("specs/**/*.cnn"), *ROOT.glob("cnnc/stdlib/*.cnn"), *ROOT.glob("examples/**/*.cnn")],
    key=lambda p: str(p),
)
DOC = (ROOT / "docs" / "language.md").read_text()
DOC_EXAMPLES = re.findall(r"^```cnn\n(.*?)^```$", DOC, re.M | re.S)


class _Reference(Transformer):
    """Lark's tree, bottom up, into the same builder methods, the span from each node's meta."""

    def __init__(self, builder) -> None:
        super().__init__()
        self.builder = builder

    def __default__(self, data, children, meta):
        self.builder.children = [] if meta.empty else _bounds(meta)
        return getattr(self.builder, data)(children)


def _bounds(meta) -> list[Token]:
    first = Token("START", "", line=meta.line, column=meta.column)
    last = Token("END", "", end_line=meta.end_line, end_column=meta.end_column)
    return [first, last]


def reference_parse(text: str, file: str):
    grammar = cnnc_parser.GRAMMAR.read_text()
    lark = _reference_lark(grammar)
    builder = cnnc_parser._ToAst()
    builder.file = file
    return _Reference(builder).transform(lark.parse(text))


_LARK: dict[str, Lark] = {}


def _reference_lark(grammar: str) -> Lark:
    if grammar not in _LARK:
        _LARK[grammar] = Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)
    return _LARK[grammar]


def test_there_is_something_to_compare():
    assert len(FILES) >= 30 and len(DOC_EXAMPLES) >= 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_spans_match_propagate_positions(path: Path):
    text = path.read_text()
    assert parse(text, str(path)) == reference_parse(text, str(path))


def test_doc_examples_spans_match():
    for text in DOC_EXAMPLES:
        assert parse(text, "doc.cnn") == reference_parse(text, "doc.cnn")


def test_spans_of_punctuation_ended_rules():
    """A call ends at its `)`, a definition at its `}`, a list at its `]`: punctuation Lark filters out."""
    text = "network N(c: int = 4) {\n  input x: 8x8x1\n  x -> conv(c, [3, 3][0]) -> output y\n}\n"
    module = parse(text, "t.cnn")
    network = module.definitions[0]
    assert (network.span.line, network.span.column, network.span.end_line, network.span.end_column) == (1, 1, 4, 2)
    chain = network.body[1].chain
    step = chain.steps[0]
    assert text.splitlines()[2][step.span.column - 1 : step.span.end_column - 1] == "conv(c, [3, 3][0])"
    index = step.args[1].value
    assert text.splitlines()[2][index.span.column - 1 : index.span.end_column - 1] == "[3, 3][0]"
