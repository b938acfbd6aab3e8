"""Every node's identifier in generated code: legal, unique in its graph, never reserved.

Both backends name a node's layer (a PyTorch submodule, a Keras layer) `code_name(node.id)`, and
weight transfer maps by that name, so it must be the same everywhere without either backend
renaming anything.  The expander keeps the names of one graph distinct (`c.b` and `c_b` would
both read `c_b`), and a name that a PyTorch module already uses for itself (`forward`,
`training`) or a Python keyword gets a trailing underscore here, once, for every backend.
"""

from __future__ import annotations

import keyword
import re

# Attributes every torch.nn.Module has: a submodule may not be named like one.
MODULE_ATTRIBUTES = frozenset(
    {
        "T_destination",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
    }
)
RESERVED = MODULE_ATTRIBUTES | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | {"self"}


def sanitize(text: str) -> str:
    """A legal identifier from any text: `layer1.basic2.conv1` -> `layer1_basic2_conv1`."""
    name = re.sub(r"\W", "_", text, flags=re.ASCII).strip("_") or "v"
    name = re.sub(r"_+", "_", name)
    if name[0].isdigit():
        name = "v_" + name
    return name


def code_name(node_id: str) -> str:
    """The node's layer name in every backend."""
    name = sanitize(node_id)
    return name + "_" if name in RESERVED else name


def module_path(node_id: str) -> str:
    """The node's PyTorch module path, the prefix of its state-dict keys (README, Names): each part of the
    path as `code_name` writes it, an item of a sequential body (a digit) as it is."""
    return ".".join(part if part.isdigit() else code_name(part) for part in node_id.split("."))
