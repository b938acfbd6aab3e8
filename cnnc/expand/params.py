"""Binding parameters: a network's (with --set overrides) and a block call's.

Arguments are evaluated in the caller's scope, defaults in a scope of the parameters
bound before them, and each value is checked against the declared type.
"""

from __future__ import annotations

from cnnc.diagnostics import Span, did_you_mean
from cnnc.expand.evaluate import Evaluator
from cnnc.expand.scope import Scope
from cnnc.expand.values import POISON, Poison, Symbol, Tensor, type_name
from cnnc.ir.graph import NetworkParam
from cnnc.syntax import ast

TYPES = ("int", "float", "bool", "str", "shape", "tuple", "list", "tensor", "any")


def check_type(value: object, typ: str | None) -> object | None:
    """The value converted to `typ`, or None if it is not of that type."""
    if typ in (None, "any"):
        return value
    if typ == "int":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if typ == "float":
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if typ == "bool":
        return value if isinstance(value, bool) else None
    if typ == "str":
        return str(value) if isinstance(value, str) else None
    if typ in ("shape", "tuple", "list"):
        return tuple(value) if isinstance(value, (tuple, list)) else None
    if typ == "tensor":
        return value if isinstance(value, Tensor) else None
    return None


def _check_declared_type(ev: Evaluator, param: ast.Param) -> bool:
    if param.type is not None and param.type not in TYPES:
        ev.report("E0213", f"unknown type `{param.type}`", param.span, help=did_you_mean(param.type, TYPES))
        return False
    return True


def _coerce(ev: Evaluator, param: ast.Param, value: object, span: Span, scope: Scope) -> object:
    if isinstance(value, Poison):
        return POISON
    if isinstance(value, Symbol) and param.type not in (None, "any", "str"):
        return ev.unknown_name(value, span, scope)
    converted = check_type(value, param.type)
    if converted is None:
        return ev.report("E0201", f"`{param.name}` expects {param.type}, got {type_name(value)} {value!r}", span)
    return converted


def bind_network_params(
    ev: Evaluator, network: ast.Definition, overrides: dict[str, object], scope: Scope
) -> list[NetworkParam]:
    """The network's parameters: defaults, replaced by `--set name=value`."""
    known = {p.name for p in network.params}
    for name in overrides:
        if name not in known:
            ev.report(
                "E0205",
                f"network `{network.name}` has no parameter `{name}`",
                network.name_span,
                help=did_you_mean(name, known) or f"its parameters: {', '.join(sorted(known)) or 'none'}",
            )
    params = []
    for param in network.params:
        if not _check_declared_type(ev, param):
            continue
        default = ev.eval(param.default, scope) if param.default is not None else None
        if param.name in overrides:
            value = _coerce(ev, param, overrides[param.name], param.span, scope)
        elif param.default is not None:
            value = _coerce(ev, param, default, param.default.span, scope)
        else:
            ev.report(
                "E0204",
                f"network parameter `{param.name}` has no default",
                param.span,
                help=f"give it one (`{param.name}: {param.type or 'int'} = ...`) or pass --set {param.name}=...",
            )
            value = POISON
        scope.vars[param.name] = value  # later defaults may read earlier parameters
        params.append(NetworkParam(param.name, param.type or "any", default, value, structural=True))
    return params


def bind_arguments(
    ev: Evaluator, block: ast.Definition, args: list[ast.Arg], span: Span, scope: Scope
) -> tuple[dict[str, object], bool] | None:
    """A block call's arguments by name, defaults filled in; None after an error."""
    positional = [a for a in args if a.name is None]
    if len(positional) > len(block.params):
        ev.report(
            "E0202",
            f"block `{block.name}` takes {len(block.params)} arguments, got {len(positional)}",
            positional[len(block.params)].span,
            labels=[],
        )
        return None
    given: dict[str, ast.Arg] = dict(zip((p.name for p in block.params), positional))
    frozen = False
    names = [p.name for p in block.params]
    ok = True
    for arg in args:
        if arg.name is None:
            continue
        if arg.name == "frozen" and "frozen" not in names:
            value = ev.eval(arg.value, scope)
            frozen = bool(value) if isinstance(value, bool) else False
            continue
        if arg.name not in names:
            ev.report(
                "E0203",
                f"block `{block.name}` has no parameter `{arg.name}`",
                arg.span,
                help=did_you_mean(arg.name, names),
            )
            ok = False
        elif arg.name in given:
            ev.report("E0208", f"`{arg.name}` is given twice", arg.span)
            ok = False
        else:
            given[arg.name] = arg
    bound: dict[str, object] = {}
    for param in block.params:
        if not _check_declared_type(ev, param):
            ok = False
            continue
        if param.name in given:
            arg = given[param.name]
            bound[param.name] = _coerce(ev, param, ev.eval(arg.value, scope), arg.value.span, scope)
        elif param.default is not None:
            defaults = Scope("block", "", vars=dict(bound), consts=ev.const_values)
            bound[param.name] = _coerce(ev, param, ev.eval(param.default, defaults), param.default.span, scope)
        else:
            ev.report(
                "E0204",
                f"block `{block.name}` needs `{param.name}`",
                span,
                help=f"pass it: `{block.name}({', '.join(names)})`",
            )
            ok = False
    if not ok or any(isinstance(v, Poison) for v in bound.values()):
        return None
    return bound, frozen
