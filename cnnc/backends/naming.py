"""The names frameworks see, shared by every backend: layer, class and builder-function names.

All of them come from `cnnc.ir.names.sanitize`, the one identifier sanitiser;
the names a generated module uses locally come from `cnnc.backends.pysource.Namespace`.
"""

from __future__ import annotations

import re

from cnnc.ir.names import code_name, sanitize


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
