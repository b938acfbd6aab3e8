"""Identifiers for generated code, shared by every backend.

Nothing from a spec reaches generated source except through here (names) or
`repr` (literals).  A `Namespace` hands out unique, legal Python identifiers
that never shadow keywords, builtins or names the generated code itself uses.
"""

from __future__ import annotations

import builtins
import keyword
import re

from cnnc.ir.names import code_name, sanitize

_RESERVED = set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins)) | {"self", "torch", "nn", "F",
                                                                                  "keras", "layers", "ops"}




class Namespace:
    """Unique identifiers; the same key always gets the same name."""

    def __init__(self, reserved: set[str] | None = None, *, attributes: bool = False) -> None:
        # Attribute names (`self.name`) only have to avoid keywords; plain names avoid builtins too.
        base = set(keyword.kwlist) if attributes else _RESERVED
        self._taken = set(base) | set(reserved or ())
        self._names: dict[str, str] = {}

    def __call__(self, key: str, hint: str | None = None) -> str:
        if key in self._names:
            return self._names[key]
        base = sanitize(hint or key)
        if base in self._taken or base.lower() in self._taken:
            base = base + "_"
        name, n = base, 1
        while name in self._taken:
            n += 1
            name = f"{base}_{n}"
        self._taken.add(name)
        self._names[key] = name
        return name

    def reserve(self, *names: str) -> None:
        self._taken.update(names)


def layer_name(node_id: str) -> str:
    """The framework-side name of a node's layer: the same in both backends, so weights map by name
    (unique in its graph and never reserved: see cnnc.ir.names)."""
    return code_name(node_id)


def class_name(network: str) -> str:
    name = sanitize(network)
    return name[0].upper() + name[1:]


def snake_case(network: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", sanitize(network)).lower()
    return re.sub(r"_+", "_", name)
