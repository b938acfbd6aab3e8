"""The front end's modules talk through public names, and its limits live in one module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CNNC = Path(__file__).resolve().parent.parent / "cnnc"
FRONT_END = ("syntax", "expand", "ir", "passes")


def _private_reaches(path: Path) -> list[str]:
    """`from cnnc.x import _y` and `obj._y` on anything but self/cls: one module using another's internals."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cnnc"):
            found += [f"{path.name}: imports {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_front_end_modules_use_only_each_others_public_names():
    reaches = [
        r for package in FRONT_END for path in sorted((CNNC / package).glob("*.py")) for r in _private_reaches(path)
    ]
    assert reaches == []


def test_the_private_name_check_sees_a_reach(tmp_path):
    sample = tmp_path / "reach_sample.py"
    sample.write_text("from cnnc.expand.scope import _assignments\nex._unknown_name(1)\nself._ok()\n")
    assert _private_reaches(sample) == [
        "reach_sample.py: imports cnnc.expand.scope._assignments",
        "reach_sample.py:2: ex._unknown_name",
    ]


def test_limits_module_imports_only_the_standard_library_and_the_parser_needs_no_expander():
    tree = ast.parse((CNNC / "limits.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "contextlib", "errno", "itertools", "os", "re", "stat", "pathlib"}, imported
    code = (
        "import sys\nimport cnnc.syntax.parser as p\nimport cnnc.limits as l\n"
        "assert p.MAX_SOURCE_BYTES is l.MAX_SOURCE_BYTES and p.limits is l\n"
        "print(sorted(m for m in sys.modules if m.startswith('cnnc.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip() == "['cnnc.diagnostics', 'cnnc.limits', 'cnnc.syntax', 'cnnc.syntax.ast', "
        "'cnnc.syntax.characters', 'cnnc.syntax.parser', 'cnnc.syntax.positions']"
    )
