"""Command-line verbs that need a framework (compile, train, convert-weights).

Each verb's module is imported only when the verb runs, so `cnnc check` and
`cnnc summary` never load torch or tensorflow.
"""

from __future__ import annotations

import argparse
from typing import Callable

SUBPARSERS: list[Callable[[argparse._SubParsersAction], None]] = []
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}
