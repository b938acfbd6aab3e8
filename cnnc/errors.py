"""Errors that the library raises and the command line reports.

A mistake in a spec is a `cnnc.diagnostics.CnncError` (diagnostics that point
at the source).  A request that cannot be carried out whatever the spec says
(an unknown task, a task option of the wrong type) is a `UsageError`: the
command line prints its message and exits with status 2.  It lives here, at
the bottom of the layers, so that the library never imports the command line.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


class UsageError(Exception):
    """The caller asked for something that cannot be done: the message says what, for a person."""


class WriteError(Exception):
    """A file the command was asked to write could not be written: `cannot write PATH: reason`."""

    def __init__(self, path: object, reason: str):
        super().__init__(f"cannot write {path}: {reason}")
        self.path, self.reason = str(path), reason


@contextlib.contextmanager
def writing(path: object) -> Iterator[None]:
    """Report an OSError inside the block as a failure to write `path` (not the temp file it failed on)."""
    try:
        yield
    except OSError as exc:
        raise WriteError(path, exc.strerror or str(exc)) from exc


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode `open()` gives a new file under the current umask (0644 under 022).

    `tempfile.mkstemp`, behind every atomic write, makes its file 0600; the file it becomes
    is an ordinary output that others may read, so it gets the ordinary mode.
    """
    return 0o666 & ~_umask()


def new_folder_mode() -> int:
    """The mode `mkdir` gives a new folder under the current umask (0755 under 022); `mkdtemp`'s is 0700."""
    return 0o777 & ~_umask()
