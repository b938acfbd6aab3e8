"""Editor support: the Pygments lexer (through its entry point) and the TextMate grammar.

The TextMate grammar is checked with the regex engine the editors use (Oniguruma, through
onigurumacffi), by a small tokenizer that follows TextMate's rule (the earliest match on the
line wins, the first listed on a tie): over every spec it must colour each character as the
Pygments lexer does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import onigurumacffi
import pytest
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

from cnnc.highlight.lexer import CnnLexer

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.cnn")) + sorted((ROOT / "specs" / "lib").glob("*.cnn"))
SPECS += [ROOT / "cnnc" / "stdlib" / "blocks.cnn"]
GRAMMAR_FILE = ROOT / "editors" / "cnn.tmLanguage.json"
DOC = (ROOT / "docs" / "language.md").read_text()
DOC_EXAMPLES = re.findall(r"^```cnn(?:-error [EWN]\d{4})?\n(.*?)^```$", DOC, re.M | re.S)


def tokens(text: str) -> list[tuple]:
    return list(CnnLexer().get_tokens_unprocessed(text))


# --- Pygments -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_the_library_lexes_without_an_error_token(path):
    text = path.read_text()
    found = tokens(text)
    assert [t for t in found if t[1] in Error] == []
    assert "".join(value for _, _, value in found) == text


def test_the_docs_examples_lex_without_an_error_token():
    assert len(DOC_EXAMPLES) >= 28
    for text in DOC_EXAMPLES:
        assert [t for t in tokens(text) if t[1] in Error] == [], text


def test_what_each_word_is():
    found = [(kind, value) for _, kind, value in tokens('network N(k: int = 3) { x -> conv_bn(8, 1e-5, "s") }')]
    assert [f for f in found if f[0] not in Whitespace] == [
        (Keyword.Declaration, "network"),
        (Name.Class, "N"),
        (Punctuation, "("),
        (Name, "k"),
        (Operator, ":"),
        (Name.Function.Magic, "int"),
        (Operator, "="),
        (Number.Integer, "3"),
        (Punctuation, ")"),
        (Punctuation, "{"),
        (Name, "x"),
        (Operator, "->"),
        (Name, "conv_bn"),
        (Punctuation, "("),
        (Number.Integer, "8"),
        (Punctuation, ","),
        (Number.Float, "1e-5"),
        (Punctuation, ","),
        (String.Double, '"s"'),
        (Punctuation, ")"),
        (Punctuation, "}"),
    ]
    found = [(kind, value) for _, kind, value in tokens("input x: 224x224x3 # rgb\n y = not true or conv_transpose")]
    assert [f for f in found if f[0] not in Whitespace] == [
        (Keyword, "input"),
        (Name, "x"),
        (Operator, ":"),
        (Number.Other, "224x224x3"),
        (Comment.Single, "# rgb"),
        (Name, "y"),
        (Operator, "="),
        (Operator.Word, "not"),
        (Keyword.Constant, "true"),
        (Operator.Word, "or"),
        (Name.Builtin, "conv_transpose"),
    ]


def _entry_point_on_path(tmp_path: Path) -> Path:
    """pyproject.toml's Pygments entry point, installed the way pip would: a dist-info on sys.path."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lexers = project["project"]["entry-points"]["pygments.lexers"]
    assert lexers == {"cnn": "cnnc.highlight.lexer:CnnLexer"}
    info = tmp_path / "cnnc_entry_points-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cnnc-entry-points\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[pygments.lexers]\n" + "".join(f"{k} = {v}\n" for k, v in lexers.items()))
    return tmp_path


def test_pygmentize_finds_the_lexer_by_name_and_by_file_name(tmp_path):
    env = dict(os.environ, PYTHONPATH=f"{_entry_point_on_path(tmp_path)}{os.pathsep}{ROOT}")
    spec = str(ROOT / "specs" / "resnet50.cnn")
    raw = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "cnn", "-f", "raw", spec],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "Token.Error" not in raw
    assert "Token.Keyword.Declaration\t'network'" in raw and "Token.Name.Builtin\t'global_avgpool'" in raw
    guessed = subprocess.run(
        [sys.executable, "-m", "pygments", "-N", spec], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert guessed.strip() == "cnn"


# --- TextMate -------------------------------------------------------------------------------

PYGMENTS_CATEGORY = [  # the most specific first
    (Keyword.Declaration, "keyword"), (Keyword.Constant, "constant"), (Keyword, "keyword"),
    (Name.Class, "type-name"), (Name.Builtin, "layer"), (Name.Function.Magic, "function"), (Name, "name"),
    (Number.Other, "shape"), (Number.Float, "float"), (Number.Integer, "integer"), (Operator.Word, "logical"),
    (Operator, "operator"), (Punctuation, "punctuation"), (Comment, "comment"), (String, "string"),
]  # fmt: skip
TEXTMATE_CATEGORY = {
    "storage.type.cnn": "keyword", "entity.name.type.cnn": "type-name", "keyword.control.cnn": "keyword",
    "constant.language.boolean.cnn": "constant", "support.function.layer.cnn": "layer",
    "support.function.builtin.cnn": "function", "variable.other.cnn": "name", "constant.numeric.shape.cnn": "shape",
    "constant.numeric.float.cnn": "float", "constant.numeric.integer.cnn": "integer",
    "keyword.operator.logical.cnn": "logical", "keyword.operator.arrow.cnn": "operator",
    "keyword.operator.cnn": "operator", "punctuation.cnn": "punctuation",
    "comment.line.number-sign.cnn": "comment", "string.quoted.double.cnn": "string",
}  # fmt: skip


def pygments_colours(text: str) -> list[str | None]:
    colours: list[str | None] = [None] * len(text)
    for start, kind, value in tokens(text):
        category = next((c for k, c in PYGMENTS_CATEGORY if kind in k), None)
        colours[start : start + len(value)] = [category] * len(value)
    return colours


def textmate_colours(text: str, grammar: dict) -> list[str | None]:
    """TextMate's rule on each line: of all patterns, the match that starts first wins."""
    rules = [grammar["repository"][p["include"][1:]] for p in grammar["patterns"]]
    compiled = [(onigurumacffi.compile(r["match"]), r) for r in rules]
    colours: list[str | None] = [None] * len(text)
    offset = 0
    for line in text.splitlines(keepends=True):
        pos = 0
        while pos < len(line):
            found = [(m.start(), i, m, r) for i, (rx, r) in enumerate(compiled) if (m := rx.search(line, pos))]
            if not found:
                break
            _, _, match, rule = min(found, key=lambda f: f[:2])
            scopes = {"0": rule["name"]} if "name" in rule else {k: v["name"] for k, v in rule["captures"].items()}
            for group, scope in scopes.items():
                start, end = match.span(int(group))
                colours[offset + start : offset + end] = [TEXTMATE_CATEGORY[scope]] * (end - start)
            pos = max(match.end(), pos + 1)
        offset += len(line)
    return colours


def test_the_textmate_grammar_is_generated():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import textmate
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert GRAMMAR_FILE.read_text() == textmate.generate(), "run: python tools/textmate.py --write"


def test_oniguruma_compiles_every_pattern():
    grammar = json.loads(GRAMMAR_FILE.read_text())
    assert grammar["scopeName"] == "source.cnn" and grammar["fileTypes"] == ["cnn"]
    patterns = [rule["match"] for rule in grammar["repository"].values()]
    assert len(patterns) == 15
    for pattern in patterns:
        onigurumacffi.compile(pattern)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_textmate_colours_the_library_as_pygments_does(path):
    grammar = json.loads(GRAMMAR_FILE.read_text())
    text = path.read_text()
    ours, theirs = pygments_colours(text), textmate_colours(text, grammar)
    differ = [
        (i, text[i], ours[i], theirs[i]) for i in range(len(text)) if not text[i].isspace() and ours[i] != theirs[i]
    ]
    assert differ == []
    assert {"keyword", "layer", "comment", "punctuation"} <= set(theirs)


def test_the_editors_folder_is_a_vs_code_extension_for_the_grammar():
    package = json.loads((ROOT / "editors" / "package.json").read_text())
    language = package["contributes"]["languages"][0]
    grammar = package["contributes"]["grammars"][0]
    assert language["extensions"] == [".cnn"] and grammar["language"] == language["id"] == "cnn"
    assert grammar["scopeName"] == json.loads(GRAMMAR_FILE.read_text())["scopeName"]
    assert (ROOT / "editors" / grammar["path"]).resolve() == GRAMMAR_FILE
    configuration = json.loads((ROOT / "editors" / language["configuration"]).read_text())
    assert configuration["comments"] == {"lineComment": "#"}
