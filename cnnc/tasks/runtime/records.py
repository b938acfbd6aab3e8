"""The run's files: written whole or not at all (a temporary file beside, then a rename), and log.csv's columns.

Every checkpoint, weights file, log and picture of a run goes through `atomic_path`, so a run that is
killed mid-write leaves the previous file, never half of one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` that replaces it whole when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix="".join(path.suffixes), dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _new_file_mode())  # mkstemp's 0600 -> what open() gives (0644 under umask 022)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _new_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def columns(history: list[dict]) -> list[str]:
    """epoch, lr, the train_ numbers, the val_ numbers (each in order of first appearance), then timings."""
    seen = list(dict.fromkeys(k for row in history for k in row))
    timing = [c for c in ("seconds", "images_per_s") if c in seen]
    rest = [c for c in seen if c not in ("epoch", "lr", *timing)]
    return (
        [c for c in ("epoch", "lr") if c in seen]
        + [c for c in rest if c.startswith("train_")]
        + [c for c in rest if not c.startswith("train_")]
        + timing
    )


def metric_names(history: list[dict]) -> list[str]:
    """The task's metrics in a history: the names after train_ / val_, loss first."""
    names = [c.split("_", 1)[1] for c in columns(history) if c.startswith(("train_", "val_"))]
    return list(dict.fromkeys(names))


def write_csv(path: Path, history: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns(history), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text(path, buffer.getvalue())
