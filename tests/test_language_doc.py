"""docs/language.md is checked, not just written.

- every ```cnn example analyses without an error or a warning; every ```cnn-error CODE
  example fails with that code (or, for a W or N code, warns or notes with it);
- every op of the language appears in a checked example;
- the op reference is exactly tools/op_reference.py's output;
- the diagnostics table lists exactly the codes the compiler emits, and the standard
  library section names every stdlib block.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnnc.compiler import analyze
from cnnc.diagnostics import render_all
from cnnc.ir.ops import OPS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "language.md"
TEXT = DOC.read_text()
# Examples are analysed as if saved next to the document: imports resolve from docs/.
EXAMPLE_PATH = ROOT / "docs" / "example.cnn"


@dataclass(frozen=True)
class Example:
    line: int
    code: str | None  # None: must check cleanly
    text: str


def _examples() -> list[Example]:
    found = []
    for match in re.finditer(r"^```cnn(?:-error ([EWN]\d{4}))?\n(.*?)^```$", TEXT, re.M | re.S):
        found.append(Example(TEXT[:match.start()].count("\n") + 1, match.group(1), match.group(2)))
    return found


EXAMPLES = _examples()


def test_the_reference_has_examples():
    assert len(EXAMPLES) >= 25
    assert sum(e.code is not None for e in EXAMPLES) >= 8


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"line{e.line}" for e in EXAMPLES])
def test_example(example: Example):
    analysis = analyze(EXAMPLE_PATH, example.text)
    rendered = render_all(analysis.diagnostics, analysis.sources)
    codes = [d.code for d in analysis.diagnostics]
    if example.code is None:
        assert analysis.ok and not codes, f"docs/language.md:{example.line}\n{rendered}"
    else:
        assert example.code in codes, f"docs/language.md:{example.line}: expected {example.code}\n{rendered}"
        assert analysis.ok == example.code.startswith(("W", "N")), rendered


def test_every_op_appears_in_a_checked_example():
    checked = "\n".join(e.text for e in EXAMPLES if e.code is None)
    # an op's name, not an attribute of that name (`batchnorm(scale=false)` does not use `scale`)
    missing = [name for name in OPS if name != "input" and not re.search(rf"\b{name}\b(?!\s*=)", checked)]
    assert not missing


def test_op_reference_is_generated():
    spec = importlib.util.spec_from_file_location("op_reference", ROOT / "tools" / "op_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.embedded(TEXT) == module.generate(), "run: python tools/op_reference.py --write"


def test_every_diagnostic_code_is_listed():
    emitted = set()
    for path in (ROOT / "cnnc").rglob("*.py"):
        emitted |= set(re.findall(r"[\"']([EWN]\d{4})[\"']", path.read_text()))
    listed = set(re.findall(r"^\| `([EWN]\d{4})` \|", TEXT, re.M))
    assert emitted == listed, f"missing from the doc: {emitted - listed}; not emitted: {listed - emitted}"


def test_every_stdlib_block_is_documented():
    stdlib = (ROOT / "cnnc" / "stdlib" / "blocks.cnn").read_text()
    blocks = re.findall(r"^block (\w+)\(", stdlib, re.M)
    assert blocks
    assert [b for b in blocks if f"`{b}(" not in TEXT] == []
