"""The words of the language as highlighters see them (the Pygments lexer, the TextMate grammar).

Derived, never listed by hand: the keywords are the grammar's quoted words, the layers the
op records and their aliases, the functions the evaluator's builtins.  A new keyword or op is
highlighted without anyone editing a highlighter.  The token patterns mirror grammar.lark's
terminals and are written in the regex subset that Python, Pygments and Oniguruma (TextMate)
read alike.
"""

from __future__ import annotations

import re

from cnnc.expand.values import BUILTINS
from cnnc.ir.ops import ALIASES, OPS
from cnnc.syntax.parser import GRAMMAR

_WORDS = set(re.findall(r'"([a-z_]+)"', GRAMMAR.read_text()))
DECLARATIONS = sorted(_WORDS & {"network", "block"})
CONSTANTS = sorted(_WORDS & {"true", "false"})
WORD_OPERATORS = sorted(_WORDS & {"and", "or", "not"})
KEYWORDS = sorted(_WORDS - set(DECLARATIONS) - set(CONSTANTS) - set(WORD_OPERATORS))
LAYERS = sorted((set(OPS) | set(ALIASES)) - _WORDS)  # `input` is a statement's keyword
FUNCTIONS = sorted(BUILTINS)


def alternatives(words: list[str]) -> str:
    """A pattern for whole words only, the longest first so `conv_transpose` is not `conv`."""
    return r"\b(?:" + "|".join(sorted(words, key=lambda w: (-len(w), w))) + r")\b"


NAME = r"[A-Za-z_][A-Za-z_0-9]*"
# (category, pattern) in the order a lexer tries them.  "declaration" has three groups: the
# keyword, the space, the defined name.  Every pattern stays within one line, as TextMate
# matches line by line.
RULES: list[tuple[str, str]] = [
    ("comment", r"#.*"),
    ("string", r'"(?:[^"\\\n]|\\.)*"'),
    ("declaration", rf"({alternatives(DECLARATIONS)})([ \t]+)({NAME})"),
    ("constant", alternatives(CONSTANTS)),
    ("logical", alternatives(WORD_OPERATORS)),
    ("keyword", alternatives(KEYWORDS + DECLARATIONS)),
    ("layer", alternatives(LAYERS)),
    ("function", alternatives(FUNCTIONS)),
    ("shape", r"\b\d+(?:x\d+)+\b"),  # 224x224x3 is one token, as the grammar's SHAPE
    ("float", r"(?:\b\d+\.\d*(?:[eE][-+]?\d+)?|\b\d+[eE][-+]?\d+|\.\d+(?:[eE][-+]?\d+)?)"),
    ("integer", r"\b\d+\b"),
    ("name", rf"\b{NAME}\b"),
    ("arrow", r"->"),
    ("operator", r"\*\*|//|==|!=|<=|>=|[-+*/%<>=?:]"),
    ("punctuation", r"[(){}\[\],.;]"),
]
