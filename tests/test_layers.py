"""The layering of cnnc/ (pyproject.toml's [tool.importlinter] contracts) holds: lint-imports exits 0."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

CONTRACTS = 7  # every contract in pyproject.toml; one dropped or added without updating this fails here


def _lint_imports() -> str:
    """The lint-imports script installed beside this interpreter (as in a venv), else the one on PATH."""
    found = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert found, "lint-imports is missing: pip install -e .[dev]"
    return found


def test_import_contracts_are_kept():
    # PYTHONPATH: analyse this tree, whatever checkout cnnc is installed from.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [_lint_imports(), "--no-cache", "--no-logo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {CONTRACTS} kept, 0 broken." in result.stdout
