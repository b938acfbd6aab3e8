"""A compile's output folder: the model module from a backend, the task's harness, written all or nothing.

This sits above both `cnnc.backends` and `cnnc.tasks` so that neither needs the
other: a backend writes `model.py`, a task writes `train.py` and its runtime,
and only this module puts them side by side.  Each backend is a module with
`generate(analysis, options) -> dict[str, str | bytes]` (file name -> source, or bytes for a
binary model such as ONNX's); it is
imported by name when a compile asks for it, so analysis alone never loads
torch or tensorflow.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cnnc import tasks, weights
from cnnc.compiler import Analysis
from cnnc.errors import UsageError, new_file_mode, writing

TARGETS = {"torch": "cnnc.backends.torch", "keras": "cnnc.backends.keras", "onnx": "cnnc.backends.onnx"}
WEIGHTED_TARGETS = {"onnx"}  # the targets that hold weights, and so take `--weights`


@dataclass
class CompileOptions:
    """What to write: the framework, and the task whose harness goes with the model (options as given)."""

    target: str
    task: str | None = None
    task_options: dict[str, object] = field(default_factory=dict)
    weights: Path | None = None  # a weights file for a target that holds weights (ONNX)
    state: Mapping[str, np.ndarray] | None = None  # its tensors as a PyTorch state dict, read by `generate`


def generate(analysis: Analysis, options: CompileOptions) -> dict[str, str | bytes]:
    """All files of a compile: the model module, plus the task harness if asked for."""
    try:
        backend = importlib.import_module(TARGETS[options.target])
    except ModuleNotFoundError as exc:
        if (exc.name or "").startswith("cnnc"):
            raise
        raise UsageError(f"--target {options.target} needs {exc.name}: pip install 'cnnc[{options.target}]'") from None
    if options.weights is not None:
        options = replace(options, state=_read_weights(analysis, options))
    files = dict(backend.generate(analysis, options))
    if options.task:
        files.update(tasks.generate(analysis, options))
    return files


def _read_weights(analysis: Analysis, options: CompileOptions) -> Mapping[str, np.ndarray]:
    if options.target not in WEIGHTED_TARGETS:
        raise UsageError(
            f"--weights is for --target {' or '.join(sorted(WEIGHTED_TARGETS))}: "
            f"a {options.target} model takes its weights in the framework"
        )
    try:
        return weights.read_torch_state(analysis.graph, options.weights)
    except (ValueError, KeyError) as exc:
        raise UsageError(f"--weights {options.weights}: {exc}") from None


def write_atomically(files: dict[str, str | bytes], out_dir: Path) -> list[Path]:
    """Write every file or none: each goes to a temp file first, then replaces its target whole.

    The files get the mode a plain `open()` would give them (0644 under umask 022), not the
    temp file's 0600.  A failure is a `WriteError` naming the file that could not be written.
    """
    with writing(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    mode = new_file_mode()
    try:
        for name, text in sorted(files.items()):
            target = out_dir / name
            with writing(target):
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
                staged.append((tmp, target))
                os.fchmod(fd, mode)
                if isinstance(text, bytes):  # a binary model (ONNX)
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(text)
                else:
                    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                        handle.write(text)
        for tmp, target in staged:
            with writing(target):
                os.replace(tmp, target)
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)  # already replaced ones are gone: no-op
        raise
    return [target for _, target in staged]
