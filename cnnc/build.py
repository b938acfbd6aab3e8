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
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cnnc import tasks, weights
from cnnc.compiler import Analysis
from cnnc.errors import UsageError, new_folder_mode

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
    """Write every file or none: all go to a staging folder first, then are swapped in.

    A folder that does not exist yet is the staging folder renamed.  Into an existing folder (which
    may hold data and runs of its own) each file is swapped in after the one it replaces is moved
    aside; on any failure the moved files are put back and the new ones removed, so the folder is
    as it was.  Nothing temporary survives either way.  Raises `UsageError` naming what could not
    be written.
    """
    for name in sorted(files):
        _refuse_obstacle(out_dir, name)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
        # mkdtemp's folder is 0700; renamed into place it becomes the output folder: the mode
        # `mkdir` would give (0755 under umask 022), as its files get open()'s (0644).
        staging.chmod(new_folder_mode())
    except OSError as exc:
        raise UsageError(f"cannot write {out_dir}: {exc.strerror or exc}") from None
    try:
        for name, text in sorted(files.items()):
            _write(staging / name, text)
        if not out_dir.exists():
            os.rename(staging, out_dir)
        else:
            _swap_in(staging, out_dir, sorted(files))
    except OSError as exc:
        raise UsageError(f"cannot write {_where(exc, staging, out_dir)}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / name for name in sorted(files)]


def _refuse_obstacle(out_dir: Path, name: str) -> None:
    # Checked before anything is written: a directory where a file goes would otherwise be moved aside.
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"cannot write {out_dir}: a file of that name is in the way")
    target = out_dir / name
    if target.is_dir():
        raise UsageError(f"cannot write {target}: a directory of that name is in the way")
    for folder in Path(name).parents[:-1]:  # `runtime` for `runtime/loop.py`
        if (out_dir / folder).exists() and not (out_dir / folder).is_dir():
            raise UsageError(f"cannot write {target}: {out_dir / folder} is a file, not a folder")


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):  # a binary model (ONNX)
        path.write_bytes(text)
    else:
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)


def _swap_in(staging: Path, out_dir: Path, names: list[str]) -> None:
    """Each staged file replaces its target; on failure every target is restored."""
    backup = staging / ".previous"
    moved: list[str] = []  # names whose previous file is in `backup`
    placed: list[str] = []  # names whose new file is in `out_dir`
    made: list[Path] = []  # folders created in `out_dir`
    try:
        for name in names:
            target = out_dir / name
            for folder in reversed([target.parent, *target.parent.parents]):
                if folder.is_relative_to(out_dir) and not folder.exists():
                    folder.mkdir()
                    made.append(folder)
            if target.exists():
                (backup / name).parent.mkdir(parents=True, exist_ok=True)
                os.replace(target, backup / name)
                moved.append(name)
            os.replace(staging / name, target)
            placed.append(name)
    except OSError:
        _roll_back(out_dir, backup, placed, moved, made)
        raise


def _roll_back(out_dir: Path, backup: Path, placed: list[str], moved: list[str], made: list[Path]) -> None:
    # Every step is tried, whatever an earlier one did: the more of the old folder is back, the better.
    undo = [lambda n=n: (out_dir / n).unlink(missing_ok=True) for n in reversed(placed)]
    undo += [lambda n=n: os.replace(backup / n, out_dir / n) for n in reversed(moved)]
    undo += [folder.rmdir for folder in reversed(made)]
    for step in undo:
        try:
            step()
        except OSError:
            pass


def _where(exc: OSError, staging: Path, out_dir: Path) -> Path:
    """The path a person knows: the output folder's, not the staging folder's."""
    failed = Path(exc.filename) if exc.filename else out_dir
    for folder in (staging / ".previous", staging):
        if failed.is_relative_to(folder):
            return out_dir / failed.relative_to(folder)
    return failed
