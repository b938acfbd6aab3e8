"""Lay out and render DOT text with graphviz-pure, a pip-installed port of Graphviz's `dot`.

A system Graphviz is never needed (no "dot not found", the complaint Keras' plot_model is known
for): `pip install cnnc[graph]` brings the `graphviz-pure` program.  It is looked for beside the
running Python (a virtual environment's bin/) and then on PATH.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from cnnc.errors import UsageError

FORMATS = {".svg": "svg", ".png": "png"}  # what a layout engine renders; `.dot` is the text itself
PROGRAM = "graphviz-pure"


def layout_program() -> str:
    beside = Path(sys.executable).with_name(PROGRAM)
    found = str(beside) if beside.exists() else shutil.which(PROGRAM)
    if found is None:
        raise UsageError(f"drawing .svg or .png needs {PROGRAM}: pip install 'cnnc[graph]' (or write a .dot file)")
    return found


def render(dot: str, suffix: str, timeout_s: float = 120.0) -> bytes:
    """The picture in the format of `suffix` (.svg, .png)."""
    result = subprocess.run(
        [layout_program(), f"-T{FORMATS[suffix]}"],
        input=dot.encode("utf-8"),
        capture_output=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{PROGRAM} failed: {result.stderr.decode('utf-8', 'replace').strip()}")
    return result.stdout
