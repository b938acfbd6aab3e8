"""Block calls: a block's body expanded inline under its call's name, and shared weights.

A call binds its arguments, runs the block's body in a fresh scope whose node ids are
prefixed with the call's name (`layer1.basic2.conv1`), and records the call in the IR
(`cnnc.ir.calls.Call`).  `shared f = step` makes every use of `f` a copy of the first
that takes its weights from it.  The body itself is run by the expander, through `Body`.
"""

from __future__ import annotations

from typing import Protocol

from cnnc.diagnostics import Label
from cnnc.expand.evaluate import Evaluator
from cnnc.expand.nodes import ANONYMOUS, Nodes, anonymous_layer, step_name
from cnnc.expand.params import bind_arguments
from cnnc.expand.scope import Scope, SharedInstance
from cnnc.expand.values import POISON, Poison, Symbol, Tensor
from cnnc.ir.calls import Call, TensorRef
from cnnc.ir.graph import Graph, Node
from cnnc.limits import MAX_BLOCK_DEPTH
from cnnc.syntax import ast


class Body(Protocol):
    """What a block call needs from the expander: running statements and steps."""

    def execute(self, stmts: list[ast.Stmt], scope: Scope) -> None: ...

    def call_step(self, value: object, step: ast.CallStep, scope: Scope) -> object: ...

    def apply_step(self, value: object, step: ast.Step, scope: Scope) -> object: ...


class Blocks:
    """Expands block calls and uses of shared instances."""

    def __init__(self, blocks: dict[str, ast.Definition], evaluator: Evaluator, nodes: Nodes, body: Body) -> None:
        self.blocks = blocks
        self.evaluator = evaluator
        self.nodes = nodes
        self.graph = nodes.graph
        self.body = body
        self.stack: list[str] = []  # the blocks being expanded, outermost first

    def call(
        self, block: ast.Definition, value: object, step: ast.CallStep, scope: Scope, prefix: str | None = None
    ) -> object:
        """`value -> block(args)`: the block's returned value, or POISON after an error."""
        refused = self._refuse_nesting(block, step)
        if refused is not None:
            return refused
        bound = bind_arguments(self.evaluator, block, step.args or [], step.span, scope)
        if bound is None:
            return POISON
        args, frozen = bound
        if prefix is None:
            alias = step_name(self.evaluator, step, scope)
            if isinstance(alias, Poison):
                return POISON
            if alias == ANONYMOUS:
                return self.anonymous(block, value, args, scope.frozen or frozen, step, scope)
            templated = step.template is not None
            prefix = self.nodes.fresh_id(scope, alias or block.name, alias is not None, templated=templated)
        record = Call(
            prefix,
            block.name,
            {k: _recorded(v) for k, v in args.items()},
            step.span,
            scope.call,
            scope.iterations,
            sequential=block.sequential,
        )
        self.graph.structure.calls.append(record)
        inner = Scope(
            "block",
            prefix + ".",
            vars=args,
            block_input=value,
            frozen=scope.frozen or frozen,
            consts=self.evaluator.const_values,
            call=record,
            sequential=block.sequential,
        )
        return self._run(block, inner)

    def anonymous(
        self, block: ast.Definition, value: object, args: dict, frozen: bool, step: ast.CallStep, scope: Scope
    ) -> object:
        """`value -> block(args) as _`: the body runs in the caller's path, adding nothing to the paths of
        its layers, which name themselves (`as conv2d_{n}`, as keras.applications' helpers that take no
        name), and continues the caller's automatic names and loops.  The call is recorded all the same,
        `anonymous`, with the caller's path: a backend may write it as a function."""
        record = Call(
            scope.prefix.removesuffix("."),
            block.name,
            {k: _recorded(v) for k, v in args.items()},
            step.span,
            scope.call,
            scope.iterations,
            anonymous=True,  # not `sequential`: the body runs as the caller's, its items named as such
        )
        self.graph.structure.calls.append(record)
        inner = Scope(
            "block",
            scope.prefix,
            vars=args,
            block_input=value,
            frozen=frozen,
            consts=self.evaluator.const_values,
            call=record,
            iterations=scope.iterations,
            counters=scope.counters,  # automatic names continue the caller's count
        )
        return self._run(block, inner)

    def _run(self, block: ast.Definition, inner: Scope) -> object:
        self.stack.append(block.name)
        try:
            self.body.execute(block.body, inner)
        finally:
            self.stack.pop()
        if inner.returned is None:
            return self.evaluator.report(
                "E0503",
                f"block `{block.name}` returns nothing",
                block.name_span,
                help="end the block with `return <value>`",
            )
        return inner.returned

    def group(self, value: object, step: ast.GroupStep, scope: Scope) -> object:
        """`value -> (a -> b) as name`: the steps in a sequential body of their own, named `name`.

        The steps read the enclosing body's names (they cannot bind any), so the group's scope
        shares its variables; it is recorded as a call with `group=True` and no block.
        """
        alias = step_name(self.evaluator, step, scope)
        if isinstance(alias, Poison):
            return POISON
        if alias == ANONYMOUS:
            return anonymous_layer(self.evaluator, step)
        prefix = self.nodes.fresh_id(scope, alias, True, templated=step.template is not None)
        record = Call(prefix, "", {}, step.span, scope.call, scope.iterations, sequential=True, group=True)
        self.graph.structure.calls.append(record)
        inner = Scope(
            "block",
            prefix + ".",
            vars=scope.vars,
            shared=scope.shared,
            frozen=scope.frozen,
            network_params=scope.network_params,
            param_reads=scope.param_reads,  # a group in the network's body reads its parameters
            param_attributes=scope.param_attributes,
            consts=self.evaluator.const_values,
            call=record,
            sequential=True,
        )
        for inner_step in step.steps:
            if isinstance(value, Poison):
                return POISON
            value = self.body.apply_step(value, inner_step, inner)
        return value

    def _refuse_nesting(self, block: ast.Definition, step: ast.CallStep) -> Poison | None:
        """Blocks are expanded inline: a block inside itself, or nesting past the limit, is an error."""
        if block.name in self.stack:
            chain_text = " -> ".join(f"`{n}`" for n in self.stack) + f" -> `{block.name}`"
            return self.evaluator.report(
                "E0402",
                f"block `{block.name}` calls itself",
                step.name_span,
                notes=[f"call chain: {chain_text}"],
                labels=[Label(block.name_span, "defined here")],
                help="blocks are expanded inline, so they cannot recurse; use `repeat` or a loop",
            )
        if len(self.stack) >= MAX_BLOCK_DEPTH:
            return self.evaluator.report("E0601", "blocks nest too deeply", step.span)
        return None

    def apply_shared(self, shared: SharedInstance, value: object, step: ast.CallStep, scope: Scope) -> object:
        """`value -> f` for `shared f = ...`: the first use makes the weights, later ones share them."""
        if shared.step.name == shared.name and shared.name not in self.blocks:
            return self.evaluator.report(
                "E0401",
                f"shared `{shared.name}` is defined in terms of itself",
                shared.step.span,
                help="name a layer or a block after `=`: `shared f = conv(8, 3)`",
            )
        shared.uses += 1
        start, calls = len(self.nodes.created), self.graph.structure.calls
        first_call = len(calls)
        prefix = shared.name if shared.uses == 1 else f"{shared.name}_{shared.uses}"
        inner = shared.step
        if inner.name in self.blocks:
            result = self.call(self.blocks[inner.name], value, inner, scope, prefix=prefix)
        else:
            alias = ast.CallStep(inner.name, inner.args, None, prefix, inner.span, inner.name_span)
            result = self.body.call_step(value, alias, scope)
        made = self.nodes.created[start:]
        call = calls[first_call] if len(calls) > first_call else None
        if shared.uses == 1:
            shared.template, shared.first_call = made, call
            return result
        if isinstance(result, Poison):
            return result
        if call is not None:
            call.shares = shared.first_call
        problem = self._share_weights(shared, made, step)
        return result if problem is None else problem

    def _share_weights(self, shared: SharedInstance, made: list[str], step: ast.CallStep) -> object:
        graph = self.graph
        template = [graph.node(n) for n in shared.template]
        copies = [graph.node(n) for n in made]
        if len(template) != len(copies):
            return self.evaluator.report("E0306", f"`{shared.name}` expands differently on this input", step.span)
        for first, node in zip(template, copies):
            if (first.op, first.attrs) != (node.op, node.attrs) or _params(graph, first) != _params(graph, node):
                return self.evaluator.report(
                    "E0306",
                    f"`{shared.name}` cannot share weights between these inputs",
                    step.span,
                    notes=[f"layer `{first.id}` would need weights of another shape"],
                    labels=[Label(shared.step.span, "the shared weights are defined here")],
                )
            node.shares = first.id
        return None


def _params(graph: Graph, node: Node) -> object:
    return node.op.params(node.attrs, [graph.node(i).shape for i in graph.input_ids(node.id)], node.shape)


def _recorded(value: object) -> object:
    """An argument as the IR keeps it: tensors as the node that makes them, bare words as strings."""
    if isinstance(value, Tensor):
        return TensorRef(value.node)
    if isinstance(value, (list, tuple)):
        return type(value)(_recorded(v) for v in value)
    if isinstance(value, Symbol):
        return str(value)
    return value
