"""A compile's output folder: the model module from a backend, the task's harness, written all or nothing.

This sits above both `cnnc.backends` and `cnnc.tasks` so that neither needs the
other: a backend writes `model.py`, a task writes `train.py` and its runtime,
and only this module puts them side by side.  Each backend is a module with
`generate(analysis, options) -> dict[str, str]` (file name -> source); it is
imported by name when a compile asks for it, so analysis alone never loads
torch or tensorflow.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cnnc import tasks
from cnnc.compiler import Analysis

TARGETS = {"torch": "cnnc.backends.torch", "keras": "cnnc.backends.keras"}


@dataclass
class CompileOptions:
    """What to write: the framework, and the task whose harness goes with the model (options as given)."""

    target: str
    task: str | None = None
    task_options: dict[str, object] = field(default_factory=dict)


def generate(analysis: Analysis, options: CompileOptions) -> dict[str, str]:
    """All files of a compile: the model module, plus the task harness if asked for."""
    backend = importlib.import_module(TARGETS[options.target])
    files = dict(backend.generate(analysis, options))
    if options.task:
        files.update(tasks.generate(analysis, options))
    return files


def write_atomically(files: dict[str, str], out_dir: Path) -> list[Path]:
    """Write every file or none: each goes to a temp file first, then replaces its target whole."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    try:
        for name, text in sorted(files.items()):
            target = out_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            staged.append((tmp, target))
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    for tmp, target in staged:
        os.replace(tmp, target)
    return [target for _, target in staged]
