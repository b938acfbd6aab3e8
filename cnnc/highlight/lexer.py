"""A Pygments lexer for `.cnn` specs, registered in pyproject.toml (`pygmentize -l cnn FILE`).

The rules come from cnnc.highlight (as do the TextMate grammar's under editors/), so
the lexer follows the grammar and the op records.  Only Pygments imports this module.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

from cnnc.highlight import RULES

TOKENS = {
    "comment": Comment.Single,
    "string": String.Double,
    "declaration": bygroups(Keyword.Declaration, Whitespace, Name.Class),
    "constant": Keyword.Constant,
    "logical": Operator.Word,
    "keyword": Keyword,
    "layer": Name.Builtin,
    "function": Name.Function.Magic,
    "shape": Number.Other,
    "float": Number.Float,
    "integer": Number.Integer,
    "name": Name,
    "arrow": Operator,
    "operator": Operator,
    "punctuation": Punctuation,
}


class CnnLexer(RegexLexer):
    """Highlights cnnc network specs: keywords, layers, builtins, shapes, numbers, comments."""

    name = "cnnc"
    aliases = ["cnn", "cnnc"]
    filenames = ["*.cnn"]
    mimetypes = ["text/x-cnn"]

    tokens = {"root": [(r"\s+", Whitespace)] + [(pattern, TOKENS[category]) for category, pattern in RULES]}
