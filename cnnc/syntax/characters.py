"""What to say about a character the lexer refuses: names are ASCII, and look-alikes are named.

A spec pasted from a paper or a chat often carries characters that look like the ASCII ones
the language uses: a Cyrillic `о` in a name, `×` in a shape, `→` for `->`, typographic quotes.
The lexer only sees "unexpected character"; this module says which character it is (code point
and Unicode name, since it is invisible by eye) and what to type instead.
"""

from __future__ import annotations

import unicodedata

from cnnc.diagnostics import Diagnostic, Span

# Characters that look like ASCII ones but that NFKC normalisation does not map there.
# Latin look-alikes from the Cyrillic and Greek alphabets (after Unicode's confusables.txt),
# and the punctuation that word processors substitute.
LOOKALIKES: dict[str, str] = {
    # Cyrillic
    "а": "a", "с": "c", "е": "e", "һ": "h", "і": "i", "ј": "j", "о": "o", "р": "p", "ѕ": "s",
    "у": "y", "х": "x", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K", "М": "M",
    "О": "O", "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "У": "Y",
    # Greek
    "α": "a", "ο": "o", "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "ι": "i", "κ": "k",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # punctuation and symbols
    "×": "x", "−": "-", "–": "-", "—": "-", "→": "->", "⟶": "->", "➔": "->",
    "“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "′": "'",
    "\u00a0": " ", "\u200b": "", "\u2009": " ", "\u202f": " ", "\ufeff": "",
}  # fmt: skip


def describe(char: str) -> str:
    """`U+043E CYRILLIC SMALL LETTER O`: what the eye cannot tell apart."""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'UNNAMED CHARACTER')}"


def lookalike(char: str) -> str | None:
    """The ASCII text `char` passes for, if it passes for any (`о` -> `o`, `ｘ` -> `x`)."""
    if char in LOOKALIKES:
        return LOOKALIKES[char]
    folded = unicodedata.normalize("NFKC", char)
    return folded if folded != char and folded.isascii() else None


def _ascii_base(char: str) -> str | None:
    """`e` for `é`: the letter without its accents, if that is ASCII."""
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base and base.isascii() and base != char else None


def _shown(text: str) -> str:
    return f"`{text}`" if text.strip() else {"": "nothing", " ": "a plain space"}.get(text, repr(text))


def character_error(char: str, span: Span) -> Diagnostic:
    """The diagnostic for a character outside the language, `char` not being ASCII."""
    twin = lookalike(char)
    if twin is not None:
        return Diagnostic(
            "error",
            "E0222",
            f"`{char}` ({describe(char)}) " + (f"looks like {_shown(twin)}" if twin else "is invisible"),
            span,
            notes=["specs are ASCII outside strings and comments"],
            help=f"write {_shown(twin)}" if twin else "delete it",
        )
    if unicodedata.category(char).startswith("L"):
        base = _ascii_base(char)
        return Diagnostic(
            "error",
            "E0221",
            f"names are ASCII: `{char}` ({describe(char)}) is not",
            span,
            notes=["a name is ASCII letters, digits and `_`, not starting with a digit"],
            help=f"write `{base}`" if base else None,
        )
    return Diagnostic("error", "E0001", f"unexpected character `{char}` ({describe(char)})", span)
