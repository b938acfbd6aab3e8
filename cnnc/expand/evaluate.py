"""Expression evaluation: numbers, tuples, names, constants, shapes of values, builtins.

The evaluator knows plain values.  The expressions that make graph nodes (chains,
`add(a, b)`) it hands to the `TensorExpressions` it was given (the expander); the
names it reads come from the scope, or from the program's constants, each
evaluated once on first use.  Every error is reported and answered with
`POISON`, so one mistake does not cascade into many.  Each expression is one
step of the expansion's budget (`MAX_STEPS`).
"""

from __future__ import annotations

import operator
from typing import Protocol

from cnnc.diagnostics import CnncError, Diagnostic, Span, did_you_mean
from cnnc.expand.reporter import Reporter
from cnnc.expand.scope import Scope, unbound_error
from cnnc.expand.values import (
    BUILTINS,
    NUMERIC_BUILTINS,
    POISON,
    SHAPE_ATTRIBUTES,
    Poison,
    Symbol,
    Tensor,
    a_type_name,
    shape_attribute,
)
from cnnc.limits import MAX_EXPONENT, MAX_MAGNITUDE, MAX_RANGE, MAX_STEPS, MAX_STRING, MAX_VALUE_ITEMS
from cnnc.syntax import ast

_ARITH = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}
_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, Symbol)


class TensorExpressions(Protocol):
    """The expressions whose value is a tensor: they add nodes, so the expander evaluates them."""

    def chain(self, expr: ast.Chain, scope: Scope) -> object: ...

    def tensor_call(self, call: ast.Call, scope: Scope) -> object: ...


class Evaluator:
    """Evaluates expressions in a scope, within the expansion's step budget."""

    def __init__(self, reporter: Reporter, consts: dict[str, ast.Const], tensors: TensorExpressions) -> None:
        self.reporter = reporter
        self.report = reporter.report  # the evaluator's own errors, often enough to name it once
        self.tensors = tensors
        self.steps = 0
        self.const_values: dict[str, object] = {}  # the constants evaluated so far
        self._consts = consts
        self._const_busy: set[str] = set()
        self._assigning: str | None = None  # the name whose value is being evaluated, for cycles
        self._item_counts: dict[int, tuple[object, int]] = {}  # id -> (list value, items through its nesting)

    def tick(self, span: Span) -> None:
        """Count one step; past the budget the spec takes too long to expand."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise CnncError(
                Diagnostic(
                    "error",
                    "E0601",
                    "the spec takes too long to expand",
                    span,
                    notes=[f"cnnc stops after {MAX_STEPS:,} evaluation steps"],
                )
            )

    def unknown_name(self, name: str, span: Span, scope: Scope) -> Poison:
        return self.reporter.unknown_name(name, span, scope.visible_names())

    # --- names ---
    def lookup(self, name: ast.Name, scope: Scope) -> object:
        """The value bound to a name; a bare word that names nothing is a `Symbol` (`same`)."""
        if name.id in scope.vars:
            if name.id in scope.network_params:
                scope.param_reads[name.id] += 1
            return scope.vars[name.id]
        later = scope.bound_later(name.id)
        if later is not None:
            code, message, extra = unbound_error(name, *later, self._assigning)
            return self.report(code, message, name.span, **extra)
        if name.id in self._consts:
            return self.constant(name.id, name.span)
        return Symbol(name.id)

    def constant(self, name: str, span: Span) -> object:
        if name not in self.const_values:
            if name in self._const_busy:
                return self.report("E0401", f"constant `{name}` is defined in terms of itself", span)
            self._const_busy.add(name)
            const = self._consts[name]
            self.const_values[name] = self.eval(const.value, Scope("block", "", consts=self.const_values))
            self._const_busy.discard(name)
        return self.const_values[name]

    def assigned_value(self, name: str, expr: ast.Expr, scope: Scope) -> object:
        """The value of `name = expr`: a read of a name bound further down may be a cycle through `name`."""
        self._assigning = name
        value = self.eval(expr, scope)
        self._assigning = None
        return value

    # --- evaluation ---
    def eval(self, expr: ast.Expr, scope: Scope) -> object:
        self.tick(expr.span)
        method = getattr(self, "_eval_" + type(expr).__name__)
        return method(expr, scope)

    def _eval_Literal(self, expr: ast.Literal, scope) -> object:
        return expr.value

    def _eval_ShapeLiteral(self, expr: ast.ShapeLiteral, scope) -> object:
        return expr.dims

    def _eval_Name(self, expr: ast.Name, scope) -> object:
        value = self.lookup(expr, scope)
        return value.at(expr.span) if isinstance(value, Tensor) else value

    def _eval_InRef(self, expr: ast.InRef, scope) -> object:
        if scope.block_input is None:
            return self.report(
                "E0102",
                "`in` is only defined inside a block",
                expr.span,
                help="a network names its inputs with `input x: 32x32x3`",
            )
        value = scope.block_input
        return value.at(expr.span) if isinstance(value, Tensor) else value

    def _eval_Attr(self, expr: ast.Attr, scope) -> object:
        obj = self.eval(expr.obj, scope)
        if isinstance(obj, Poison):
            return POISON
        if not isinstance(obj, Tensor):
            return self.report("E0207", f"{a_type_name(obj)} has no attribute `{expr.name}`", expr.span)
        value = shape_attribute(obj, expr.name)
        if value is None:
            rank = len(obj.shape) - 1
            return self.report(
                "E0102",
                f"a rank-{rank} value has no `.{expr.name}`",
                expr.span,
                help=did_you_mean(expr.name, SHAPE_ATTRIBUTES),
                notes=[f"its shape is {'x'.join(map(str, obj.shape))}"],
            )
        return value

    def _eval_Index(self, expr: ast.Index, scope) -> object:
        obj, index = self.eval(expr.obj, scope), self.eval(expr.index, scope)
        if isinstance(obj, Poison) or isinstance(index, Poison):
            return POISON
        if not isinstance(obj, (tuple, list, range)) or not isinstance(index, int) or isinstance(index, bool):
            return self.report("E0207", f"cannot index {a_type_name(obj)} with {a_type_name(index)}", expr.span)
        if not -len(obj) <= index < len(obj):
            return self.report("E0206", f"index {index} is out of range for length {len(obj)}", expr.span)
        return obj[index]

    def _eval_ListExpr(self, expr: ast.ListExpr, scope) -> object:
        items = [self.eval(item, scope) for item in expr.items]
        return POISON if any(isinstance(i, Poison) for i in items) else self.sized(items, expr.span)

    def _eval_TupleExpr(self, expr: ast.TupleExpr, scope) -> object:
        items = [self.eval(item, scope) for item in expr.items]
        return POISON if any(isinstance(i, Poison) for i in items) else self.sized(tuple(items), expr.span)

    def sized(self, value: list | tuple, span: Span) -> object:
        """`value`, within the budget of items a value may hold through its nesting (`MAX_VALUE_ITEMS`).

        Checked as each list is built, so `repeat 40 { a = [a, a] }` stops at 2^16 items instead of
        building 2^40 that `==`, `len` or an op's attribute check would then walk.  A sublist's
        count is remembered by identity, which costs one lookup per item however deep it nests.
        """
        total = len(value)
        for item in value:
            if isinstance(item, (list, tuple)):
                total += self._items(item)
        if total > MAX_VALUE_ITEMS:
            return self.report(
                "E0601",
                "the value is too large",
                span,
                notes=[f"a list holds at most {MAX_VALUE_ITEMS:,} items, counting those of the lists inside it"],
            )
        self._item_counts[id(value)] = (value, total)  # the value itself is kept so its id stays its own
        return value

    def _items(self, value: list | tuple) -> int:
        known = self._item_counts.get(id(value))
        if known is not None:
            return known[1]
        # a list not built by an expression (a shape, a literal): flat or small
        return len(value) + sum(self._items(v) for v in value if isinstance(v, (list, tuple)))

    def _eval_Chain(self, expr: ast.Chain, scope) -> object:
        return self.tensors.chain(expr, scope)

    def _eval_Ternary(self, expr: ast.Ternary, scope) -> object:
        cond = self.condition(expr.cond, scope)
        if isinstance(cond, Poison):
            return POISON
        return self.eval(expr.then if cond else expr.otherwise, scope)

    def condition(self, expr: ast.Expr, scope) -> object:
        value = self.eval(expr, scope)
        if isinstance(value, Poison) or isinstance(value, bool):
            return value
        if isinstance(value, Symbol):
            return self.unknown_name(value, expr.span, scope)
        return self.report("E0207", f"a condition must be true or false, got {a_type_name(value)}", expr.span)

    def _eval_UnaryOp(self, expr: ast.UnaryOp, scope) -> object:
        if expr.op == "not":
            value = self.condition(expr.operand, scope)
            return value if isinstance(value, Poison) else not value
        value = self.eval(expr.operand, scope)
        if isinstance(value, Poison):
            return POISON
        if not is_number(value) or isinstance(value, bool):
            return self._operand_error("-", value, expr.operand.span, scope)
        return -value

    def _eval_BinOp(self, expr: ast.BinOp, scope) -> object:
        if expr.op in ("and", "or"):
            left = self.condition(expr.left, scope)
            if isinstance(left, Poison) or left == (expr.op == "or"):
                return left
            return self.condition(expr.right, scope)
        left, right = self.eval(expr.left, scope), self.eval(expr.right, scope)
        if isinstance(left, Poison) or isinstance(right, Poison):
            return POISON
        for value, side in ((left, expr.left), (right, expr.right)):
            if isinstance(value, Symbol):
                return self.unknown_name(value, side.span, scope)
        if expr.op in _COMPARE:
            return self._compare(expr, left, right)
        return self._arith(expr, left, right, scope)

    def _compare(self, expr: ast.BinOp, left, right) -> object:
        if expr.op in ("==", "!="):
            return _COMPARE[expr.op](left, right)
        if not (is_number(left) and is_number(right)):
            return self.report("E0207", f"cannot compare {a_type_name(left)} with {a_type_name(right)}", expr.span)
        return _COMPARE[expr.op](left, right)

    def _arith(self, expr: ast.BinOp, left, right, scope) -> object:
        if isinstance(left, str) and isinstance(right, str) and expr.op == "+":
            if len(left) + len(right) > MAX_STRING:
                return self.report("E0601", "string is too long", expr.span)
            return left + right
        if isinstance(left, (tuple, list)) and isinstance(right, (tuple, list)) and expr.op == "+":
            if self._items(left) + self._items(right) > MAX_VALUE_ITEMS:
                return self.report("E0601", "list is too long", expr.span)
            return self.sized(type(left)(list(left) + list(right)), expr.span)
        for value, side in ((left, expr.left), (right, expr.right)):
            if not is_number(value):
                return self._operand_error(expr.op, value, side.span, scope)
        if expr.op in ("/", "//", "%") and right == 0:
            return self.report("E0206", "division by zero", expr.right.span)
        if expr.op == "**" and (abs(right) > MAX_EXPONENT or (left == 0 and right < 0)):
            return self.report("E0601", f"exponent {right} is out of range", expr.right.span)
        try:
            result = _ARITH[expr.op](left, right)
        except (OverflowError, ZeroDivisionError, ValueError):
            return self.report("E0601", "number out of range", expr.span)
        if isinstance(result, complex) or abs(result) > MAX_MAGNITUDE:
            return self.report(
                "E0601", "number out of range", expr.span, notes=["cnnc's numbers stay below 2^62 in magnitude"]
            )
        return result

    def _operand_error(self, op: str, value: object, span: Span, scope) -> Poison:
        if isinstance(value, Symbol):
            return self.unknown_name(value, span, scope)
        return self.report("E0207", f"cannot apply `{op}` to {a_type_name(value)}", span)

    def _eval_Call(self, expr: ast.Call, scope) -> object:
        if expr.func not in BUILTINS:
            return self.tensors.tensor_call(expr, scope)
        args, kwargs = [], {}
        for arg in expr.args:
            value = self.eval(arg.value, scope)
            if isinstance(value, Poison):
                return POISON
            if isinstance(value, Symbol):
                return self.unknown_name(value, arg.value.span, scope)
            if arg.name is None:
                args.append(value)
            else:
                kwargs[arg.name] = value
        if expr.func == "range" and any(not isinstance(a, int) or isinstance(a, bool) for a in args):
            return self.report("E0207", "`range` takes integers", expr.span)
        if expr.func in NUMERIC_BUILTINS:  # `round_filters("ab", 1e9)` would repeat a string a billion times
            wrong = next((v for v in [*args, *kwargs.values()] if not is_number(v) and v is not None), POISON)
            if wrong is not POISON:
                return self.report("E0207", f"`{expr.func}` takes numbers, got {a_type_name(wrong)}", expr.span)
        try:
            result = BUILTINS[expr.func](*args, **kwargs)
        except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
            return self.report("E0207", f"bad arguments to `{expr.func}`: {str(exc).lower()}", expr.span)
        if is_number(result) and abs(result) > MAX_MAGNITUDE:
            return self.report("E0601", "number out of range", expr.span)
        if isinstance(result, range) and _longer_than(result, MAX_RANGE):
            return self.report("E0601", f"a range of more than {MAX_RANGE:,} numbers is too long", expr.span)
        return result


def _longer_than(items: range, limit: int) -> bool:
    try:
        return len(items) > limit
    except OverflowError:  # longer than sys.maxsize
        return True
