"""An op call's arguments into its validated attribute model.

Positional arguments follow the op record's `positional` order; keywords are
checked against the schema with a did-you-mean; pydantic's verdicts become
diagnostics that point at the offending argument.
"""

from __future__ import annotations

from pydantic import ValidationError

from cnnc.diagnostics import Span, did_you_mean
from cnnc.expand.evaluate import Evaluator
from cnnc.expand.scope import Scope
from cnnc.expand.values import Poison, Symbol, Tensor, a_type_name, type_name
from cnnc.ir.attrs import Attrs
from cnnc.ir.ops import Op
from cnnc.syntax import ast

UNIVERSAL = ("frozen",)  # accepted by every step, handled by the expander


def _plain(value: object) -> object:
    """Symbols to plain strings, lists to tuples: the shapes pydantic validates."""
    if isinstance(value, Symbol):
        return str(value)
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value


def build_attrs(
    ev: Evaluator, op: Op, args: list[ast.Arg], span: Span, scope: Scope, report_missing: bool = True
) -> tuple[Attrs, bool, dict[str, str]] | None:
    """(attributes, frozen, network-parameter bindings), or None after reporting."""
    fields = op.attrs.model_fields
    values: dict[str, object] = {}
    arg_of: dict[str, ast.Arg] = {}
    frozen, ok = False, True
    positional = [a for a in args if a.name is None]
    if len(positional) > len(op.positional):
        extra = positional[len(op.positional)]
        takes = ", ".join(f"`{p}`" for p in op.positional) or "no positional arguments"
        ev.report(
            "E0202",
            f"`{op.name}` takes {len(op.positional)} positional argument"
            f"{'s' * (len(op.positional) != 1)}, got {len(positional)}",
            extra.span,
            notes=[f"`{op.name}` takes {takes}"],
            help="name the others: `stride=2`",
        )
        return None
    named = list(zip(op.positional, positional)) + [(a.name, a) for a in args if a.name is not None]
    for name, arg in named:
        if name in UNIVERSAL:
            value = ev.eval(arg.value, scope)
            if not isinstance(value, bool):
                ev.report("E0201", f"`frozen` is true or false, got {a_type_name(value)}", arg.value.span)
                ok = False
            frozen = value is True
            continue
        if name not in fields or name == "name":
            ev.report(
                "E0203",
                f"`{op.name}` has no attribute `{name}`",
                arg.span,
                help=did_you_mean(name, [f for f in fields if f != "name"] + list(UNIVERSAL)),
            )
            ok = False
            continue
        if name in values:
            ev.report("E0208", f"`{name}` is given twice", arg.span)
            ok = False
            continue
        value = ev.eval(arg.value, scope)
        if isinstance(value, Poison):
            ok = False
        elif isinstance(value, Tensor):
            ev.report("E0201", f"`{name}` takes a value, not a tensor", arg.value.span)
            ok = False
            continue
        values[name], arg_of[name] = value, arg
    values = {k: v for k, v in values.items() if not isinstance(v, Poison)}
    try:
        attrs = op.attrs(**{k: _plain(v) for k, v in values.items()})
    except ValidationError as exc:
        # With a bad keyword elsewhere, a "missing" verdict would only be noise.
        _report_validation(ev, op, exc, values, arg_of, span, scope, report_missing and ok)
        return None
    if not ok:
        return None
    bindings = {
        name: arg.value.id
        for name, arg in arg_of.items()
        if isinstance(arg.value, ast.Name) and arg.value.id in scope.network_params
    }
    for param in bindings.values():
        scope.param_attributes[param] += 1
    return attrs, frozen, bindings


def _report_validation(
    ev: Evaluator,
    op: Op,
    exc: ValidationError,
    values: dict,
    arg_of: dict,
    span: Span,
    scope: Scope,
    report_missing: bool,
) -> None:
    by_field: dict[str, list[dict]] = {}
    for err in exc.errors():
        by_field.setdefault(str(err["loc"][0]) if err["loc"] else "", []).append(err)
    for name, errors in by_field.items():
        if errors[0]["type"] == "missing":
            if not report_missing:
                continue
            wanted = ", ".join(op.positional) or name
            ev.report("E0204", f"`{op.name}` needs `{name}`", span, help=f"write `{op.name}({wanted})`")
            continue
        value = values.get(name)
        where = arg_of[name].value.span if name in arg_of else span
        if isinstance(value, Symbol) and not any(e["type"] == "literal_error" for e in errors):
            ev.unknown_name(value, where, scope)
            continue
        ev.report("E0201", _explain(name, value, errors), where, help=_value_help(value, errors))


def _explain(name: str, value: object, errors: list[dict]) -> str:
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than": ("less than", "lt"),
        "less_than_equal": ("at most", "le"),
    }
    for err in errors:
        if err["type"] in bounds:
            words, key = bounds[err["type"]]
            return f"`{name}` must be {words} {err['ctx'][key]}, got {_show(value)}"
    if any(e["type"] == "finite_number" for e in errors):
        return f"`{name}` must be a finite number, got {_show(value)}"
    literals = [e for e in errors if e["type"] == "literal_error"]
    if literals and isinstance(value, str):
        return f"`{name}` must be {literals[0]['ctx']['expected']}, got `{value}`"
    return f"invalid `{name}`: {_show(value)} ({type_name(value)})"


def _value_help(value: object, errors: list[dict]) -> str | None:
    for err in errors:
        if err["type"] == "literal_error" and isinstance(value, str):
            options = [o.strip(" '") for o in err["ctx"]["expected"].replace(" or ", ",").split(",")]
            return did_you_mean(value, [o for o in options if o])
    return None


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def block_arguments(op: Op, args: list[ast.Arg], scope: Scope) -> dict[str, str]:
    """{attribute: block parameter} for the attributes a block's body writes as one of its parameters
    (`conv(..., stride=stride)`): a backend may make them constructor arguments of the block's class."""
    call = scope.call
    while call is not None and (call.group or call.anonymous):  # a group's (an `as _` call's) layers are
        call = call.parent  # its caller's
    params = call.args if call is not None else {}
    positional = [a for a in args if a.name is None]
    named = list(zip(op.positional, positional)) + [(a.name, a) for a in args if a.name is not None]
    return {
        name: arg.value.id
        for name, arg in named
        if isinstance(arg.value, ast.Name)
        and arg.value.id in params
        and type(scope.vars.get(arg.value.id)) is type(params[arg.value.id])
        and scope.vars.get(arg.value.id) == params[arg.value.id]
    }
