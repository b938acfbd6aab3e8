"""Every resource limit of the front end, in one place.

A spec is hand-written: beyond these it is a typo or an attack, never a network, and cnnc
refuses with E0601 at once rather than hanging or running out of memory.  The parser, the
expander and the shape rules all read them from here; this module imports only the standard
library, so any layer may.  The helpers below apply a limit before the work it bounds:
a literal's length before Python converts it, a file's size before it is read whole.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import stat
from pathlib import Path

# --- reading ---
MAX_SOURCE_BYTES = 4 << 20  # a spec file; the largest library spec is a few KiB
MAX_TOKENS = 100_000  # tokens of one file: a 10,000-layer chain has 63,000; Lark parses ~40,000 a second
MAX_IMPORTS = 256  # files one spec may pull in through `import`
MAX_PATH_CHARS = 4096  # an import path (PATH_MAX on Linux)

# --- numbers ---
MAX_MAGNITUDE = 1 << 62  # any number the language computes with, literal or computed
MAX_LITERAL_CHARS = 64  # a number as written: 2^62 has 19 digits; Python converts at most 4,300
MAX_EXPONENT = 256  # `a ** b`: |b| beyond this only builds huge numbers
MAX_RANGE = 1 << 20  # `sum`, `min` and `max` walk a range in C, where no step budget can stop them
MAX_STRING = 1 << 16  # characters of a string, items of a list built with `+`
# Items of one list or tuple value counted through its nesting, a shared sublist once per use:
# `repeat 40 { a = [a, a] }` builds 2^40 items in 40 steps, and comparing or copying it walks them all.
MAX_VALUE_ITEMS = 1 << 16

# --- expansion ---
MAX_NODES = 12_000  # the largest classic nets have a few thousand layers (bench: a 10,000-layer chain);
# reaching it through ResNet blocks takes about 0.5 s of CPU, 1.5 s on a busy shared machine
MAX_STEPS = 500_000  # evaluation steps: the largest shipped spec takes 2,200; 12,000 layers at 8 a layer fit
MAX_BLOCK_DEPTH = 64  # block calls nested inside block calls
# Python frames the expander may use, whatever limit the host program set (TensorFlow, for one,
# raises Python's), so that one spec checks the same everywhere.
EXPANSION_STACK = 1000

# --- shapes ---
MAX_DIM = 1 << 24  # one dimension of a tensor
MAX_ELEMENTS = 1 << 36  # elements of one tensor, per example

# --- diagnostics ---
MAX_DIAGNOSTICS = 100  # shown per run; the rest are counted ("N more errors not shown")
MAX_SHOWN_LINE = 200  # characters of a source line shown under a diagnostic, around its caret

_TOKEN = re.compile(r"[A-Za-z0-9_.]+|->|\*\*|//|[=!<>]=|\S")


def parse_int(text: str) -> int | None:
    """The integer `text` spells (digits, maybe a sign), or None if it is too long or too large."""
    text = text.strip()
    if len(text) > MAX_LITERAL_CHARS or not re.fullmatch(r"[-+]?\d+", text):
        return None
    value = int(text)
    return value if abs(value) <= MAX_MAGNITUDE else None


def too_many_tokens(text: str) -> bool:
    """More than MAX_TOKENS tokens; counts no further than the limit."""
    return sum(1 for _ in itertools.islice(_TOKEN.finditer(text), MAX_TOKENS + 1)) > MAX_TOKENS


def read_bounded(path: Path, limit: int = MAX_SOURCE_BYTES) -> bytes:
    """A regular file's bytes, at most `limit`; OSError (with `strerror` for a person) otherwise.

    A FIFO, a device (`/dev/zero`, `/dev/stdin`) or a directory is refused before it is read,
    and no more than `limit + 1` bytes are ever read, whatever the file claims its size is.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO's open would wait for a writer
    except ValueError as exc:  # a NUL in the path
        raise OSError(errno.EINVAL, "the path is not a valid file name", str(path)) from exc
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit >> 20} MiB", str(path))
    return data


def path_problem(text: str) -> str | None:
    """Why `text` cannot name a file (NUL, a lone surrogate, too long), or None."""
    if "\x00" in text:
        return "the path contains a NUL character"
    if len(text) > MAX_PATH_CHARS:
        return f"the path is longer than {MAX_PATH_CHARS:,} characters"
    try:
        os.fsencode(text)
        text.encode("utf-8")
    except UnicodeError:
        return "the path contains a character that cannot be a file name (a lone surrogate)"
    return None


@contextlib.contextmanager
def lifted(**values: int):
    """Raise limits of this module for the block: a measurement past them (bench/frontend.py times
    the parser's growth to 50,000 layers), never a user's spec.  Readers look the limit up here
    when they apply it (`limits.MAX_NODES`), so the new value holds everywhere."""
    module = globals()
    unknown = set(values) - {name for name in module if name.startswith("MAX_")}
    if unknown:
        raise KeyError(f"no such limit: {', '.join(sorted(unknown))}")
    saved = {name: module[name] for name in values}
    module.update(values)
    try:
        yield
    finally:
        module.update(saved)
