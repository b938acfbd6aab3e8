"""Adding layers to the graph: unique ids, validated attributes, shapes inferred on the way in.

Shapes are inferred as each node is added, because what follows may depend on them
(`in.c`).  Every id handed out (layers and block calls) stays distinct also after
`cnnc.ir.names.code_name`, so each backend can name layers by it.
"""

from __future__ import annotations

import re

from cnnc import limits
from cnnc.diagnostics import CnncError, Diagnostic, Label, Span
from cnnc.expand.attributes import block_arguments, build_attrs
from cnnc.expand.evaluate import Evaluator
from cnnc.expand.scope import Scope
from cnnc.expand.values import POISON, Poison, Symbol, Tensor, type_name
from cnnc.ir.attrs import InputAttrs
from cnnc.ir.graph import Graph, Node
from cnnc.ir.names import code_name
from cnnc.ir.ops import OPS, Op
from cnnc.ir.shape_math import ShapeError, fmt
from cnnc.passes.shape import infer_shape
from cnnc.syntax import ast

# `-> block(...) as _`: the call adds nothing to its layers' paths (README, Names).
ANONYMOUS = "_"


def step_name(evaluator: Evaluator, step: ast.CallStep | ast.GroupStep, scope: Scope) -> str | None | Poison:
    """A step's own name (`as name`), a template's `{expr}` parts evaluated in `scope`."""
    if step.template is None:
        return step.alias
    text = []
    for part in step.template.parts:
        if isinstance(part, str):
            text.append(part)
            continue
        value = evaluator.eval(part, scope)
        if isinstance(value, Poison):
            return POISON
        if isinstance(value, Symbol):
            return evaluator.unknown_name(value, part.span, scope)
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return evaluator.report(
                "E0235",
                f"a `{{...}}` in a name gives a whole number or a string, got a {type_name(value)}",
                part.span,
                help="write `int(...)` for a whole number",
            )
        text.append(str(value))
    name = "".join(text)
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        return evaluator.report(
            "E0236",
            f"`{name}` is not a name" if name else "the name is empty",
            step.template.span,
            notes=["a name has letters, digits and `_` only"],
        )
    return name


class Nodes:
    """Makes the graph's nodes, in order."""

    def __init__(self, graph: Graph, evaluator: Evaluator) -> None:
        self.graph = graph
        self.evaluator = evaluator
        self.created: list[str] = []  # node ids in the order they were made
        self.code_names: set[str] = set()  # code_name of every id handed out

    def add_input(self, name: str, shape: tuple[int, ...], span: Span) -> object:
        """The network input `name`: a tensor, or POISON after an error."""
        tensor = self._add(Node(name, OPS["input"], InputAttrs(shape=shape, name=name), span), [], span)
        if isinstance(tensor, Tensor):
            self.code_names.add(code_name(name))
            self.graph.inputs[name] = name
        return tensor

    def add_op(
        self, op: Op, inputs: list[Tensor], args: list[ast.Arg], step: ast.CallStep | ast.Call, scope: Scope
    ) -> object:
        """A layer applying `op` with `args` to `inputs`: a tensor, or POISON after an error."""
        span = step.span
        if len(inputs) < op.min_inputs or (op.max_inputs is not None and len(inputs) > op.max_inputs):
            want = "one input" if op.max_inputs == 1 else f"at least {op.min_inputs} inputs"
            return self.evaluator.report("E0209", f"`{op.name}` takes {want}, got {len(inputs)}", span)
        built = build_attrs(self.evaluator, op, args, span, scope)
        if built is None:
            return POISON
        attrs, frozen, bindings = built
        frozen = frozen or scope.frozen or getattr(attrs, "weights", None) is not None
        templated = isinstance(step, ast.CallStep) and step.template is not None
        alias = step_name(self.evaluator, step, scope) if isinstance(step, ast.CallStep) else None
        if isinstance(alias, Poison):
            return POISON
        if alias == ANONYMOUS:
            return anonymous_layer(self.evaluator, step)
        node = Node(
            self.fresh_id(scope, alias or op.name, alias is not None, templated=templated),
            op,
            attrs,
            span,
            frozen=frozen and op.has_weights,
            bindings=bindings,
            arguments=block_arguments(op, args, scope),
            call=scope.call,
            loops=scope.iterations,
        )
        return self._add(node, inputs, span)

    def _add(self, node: Node, inputs: list[Tensor], span: Span) -> object:
        try:
            node.shape = infer_shape(node, [t.shape for t in inputs])
        except ShapeError as exc:
            return self._shape_error(exc, inputs, span)
        if len(self.graph) >= limits.MAX_NODES:
            message = f"the network has more than {limits.MAX_NODES:,} layers"
            raise CnncError(Diagnostic("error", "E0601", message, span))
        self.graph.add(node, [t.node for t in inputs])
        self.created.append(node.id)
        return Tensor(node.id, node.shape, span)

    def _shape_error(self, exc: ShapeError, inputs: list[Tensor], span: Span) -> Poison:
        labels = []
        if exc.operand is not None and exc.operand < len(inputs):
            first, culprit = inputs[0], inputs[exc.operand]
            labels = [
                Label(first.span, f"this is {fmt(first.shape)}"),
                Label(culprit.span, f"this is {fmt(culprit.shape)}"),
            ]
        return self.evaluator.report(exc.code, exc.message, span, labels=labels, notes=list(exc.notes), help=exc.help)

    def fresh_id(self, scope: Scope, base: str, explicit: bool, templated: bool = False) -> str:
        """A node or call id not yet used, distinct from all others also as code (`c.b` vs `c_b`).

        The Names rule (README): an explicit name inside a loop of its body is numbered from 1
        (`layer1`); an unnamed item of a sequential body is its position from 0 (`downsample.0`);
        other automatic names count from 1 (conv1, conv2), with an underscore after a digit
        (relu6_1, not relu61); an explicit name already taken gets `_2`, `_3`.  A name written
        as a template (`block_{i}`) is numbered by its template, never by the loop.
        """
        position = scope.items
        scope.items += 1
        if scope.sequential and not explicit:
            base, explicit = str(position), True
        numbered = explicit and bool(scope.iterations) and not base.isdigit() and not templated
        sep = "_" if (explicit and not numbered) or base[-1].isdigit() else ""
        while True:
            scope.counters[base] += 1
            n = scope.counters[base]
            plain = explicit and n == 1 and not numbered
            node_id = scope.prefix + (base if plain else f"{base}{sep}{n}")
            if (
                node_id not in self.graph
                and node_id not in self.graph.inputs
                and code_name(node_id) not in self.code_names
            ):
                self.code_names.add(code_name(node_id))
                return node_id


def anonymous_layer(evaluator: Evaluator, step: ast.CallStep | ast.GroupStep) -> Poison:
    """`as _` on a layer or a group: only a block call can leave its name out of the path."""
    span = step.template.span if step.template is not None else step.span
    return evaluator.report(
        "E0237",
        "only a block call can be anonymous (`as _`)",
        span,
        notes=["`as _` makes a block's layers part of the caller's body, named by the block's own `as` names"],
        help="give the step a name",
    )
