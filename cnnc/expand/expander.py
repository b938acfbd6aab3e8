"""Expansion: a network's AST, with blocks, loops and parameters, into the IR.

Statements run in order; a name is bound by assignment.  Shapes are inferred as
each node is added, because the structure may depend on them (`in.c`).  Every
error is reported and expansion goes on with a poisoned value, so one run reports
every independent mistake.

This module runs statements and chains; the others each do one job for it:
`scope` (what names are bound), `evaluate` (expressions), `params` (binding
parameters), `attributes` (an op's arguments), `nodes` (adding a layer to the
graph), `blocks` (block calls and shared weights).  Loops and value names are
recorded in the IR's structure (`cnnc.ir.calls`) as they run.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain as iter_chain

from cnnc import limits
from cnnc.diagnostics import CnncError, Diagnostic, Label, Span, did_you_mean
from cnnc.expand.attributes import build_attrs
from cnnc.expand.blocks import Blocks
from cnnc.expand.evaluate import Evaluator
from cnnc.expand.loader import Program
from cnnc.expand.nodes import Nodes
from cnnc.expand.params import bind_network_params
from cnnc.expand.reporter import Reporter
from cnnc.expand.scope import BodyInfo, Frame, Scope, SharedInstance
from cnnc.expand.values import BUILTINS, POISON, Poison, Symbol, Tensor, a_type_name
from cnnc.ir import ops as op_table
from cnnc.ir.calls import Branch, Iteration, Loop, ValueName
from cnnc.ir.graph import Graph
from cnnc.syntax import ast


class Expander:
    """Expands one network of a program into a graph: `Expander(...).run()`."""

    def __init__(
        self,
        program: Program,
        network: ast.Definition,
        overrides: dict[str, object] | None = None,
        input_shapes: dict[str | None, tuple[int, ...]] | None = None,
    ):
        self.program = program
        self.definition = network
        self.overrides = overrides or {}
        self.input_shapes = input_shapes or {}
        self.graph = Graph(network.name, network.span.file, span=network.span)
        self.structure = self.graph.structure
        self.reporter = Reporter()
        self.evaluator = Evaluator(self.reporter, program.consts, self)
        self.report = self.reporter.report
        self.eval = self.evaluator.eval
        self.nodes = Nodes(self.graph, self.evaluator)
        self.blocks = Blocks(program.blocks, self.evaluator, self.nodes, self)
        self._bodies: dict[int, BodyInfo] = {}

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.reporter.diagnostics

    # --- entry point ---
    def run(self) -> Graph:
        scope = Scope("network", "", consts=self.evaluator.const_values)
        params = bind_network_params(self.evaluator, self.definition, self.overrides, scope)
        scope.vars.update({p.name: p.value for p in params})
        scope.network_params = frozenset(p.name for p in params)
        self.execute(self.definition.body, scope)
        for p in params:
            # Read anywhere but as a whole layer attribute, a parameter shapes the network.
            p.structural = scope.param_reads[p.name] > scope.param_attributes[p.name]
            self.graph.params[p.name] = p
        if not self.graph.outputs and not any(d.is_error for d in self.diagnostics):
            self.report(
                "E0502",
                f"network `{self.definition.name}` has no output",
                self.definition.name_span,
                help="end a chain with `-> output y`",
            )
        return self.graph

    # --- statements ---
    def execute(self, stmts: list[ast.Stmt], scope: Scope) -> None:
        frame = Frame(self.body_info(stmts))
        scope.frames.append(frame)
        try:
            for frame.index, stmt in enumerate(stmts):
                self.statement(stmt, scope)
                if scope.returned is not None:
                    break
        finally:
            scope.frames.pop()

    def body_info(self, stmts: list[ast.Stmt]) -> BodyInfo:
        # The AST lives as long as the expander, so a body's identity is a stable key.
        info = self._bodies.get(id(stmts))
        if info is None:
            info = self._bodies[id(stmts)] = BodyInfo.of(stmts)
        return info

    def statement(self, stmt: ast.Stmt, scope: Scope) -> None:
        getattr(self, "_stmt_" + type(stmt).__name__)(stmt, scope)

    def _stmt_InputStmt(self, stmt: ast.InputStmt, scope: Scope) -> None:
        if scope.kind != "network":
            self.report("E0210", "`input` belongs in a network; a block reads its input as `in`", stmt.span)
            return
        declared = self.eval(stmt.shape, scope)
        shape = self.input_shapes.get(stmt.name, self.input_shapes.get(None)) or declared
        if shape is not declared and not self.same_rank(stmt, declared, shape):
            shape = POISON
        if stmt.name not in self.graph.inputs:
            scope.vars[stmt.name] = POISON  # until it is bound: a bad shape must not make the name unknown
        if isinstance(shape, Poison):
            return
        if isinstance(shape, list):
            shape = tuple(shape)
        if isinstance(shape, int) and not isinstance(shape, bool):
            shape = (shape,)  # a flat vector: `input v: 128`
        if not (isinstance(shape, tuple) and shape and all(_positive_int(d) for d in shape)):
            self.report(
                "E0201", f"an input shape is a list of positive sizes like 32x32x3, got {shape!r}", stmt.shape.span
            )
            return
        if stmt.name in self.graph.inputs:
            self.report("E0211", f"input `{stmt.name}` is declared twice", stmt.span)
            return
        tensor = self.nodes.add_input(stmt.name, shape, stmt.span)
        if isinstance(tensor, Tensor):
            scope.vars[stmt.name] = tensor
            self.structure.name_value(ValueName(stmt.name, tensor.node, None, stmt.span))

    def same_rank(self, stmt: ast.InputStmt, declared: object, given: tuple[int, ...]) -> bool:
        """`--input` changes sizes, never the rank: a 2D network given a 1D shape is a mistake."""
        if isinstance(declared, int) and not isinstance(declared, bool):
            declared = (declared,)
        if not isinstance(declared, (tuple, list)) or len(declared) == len(given):
            return True
        if not isinstance(stmt.shape, (ast.ShapeLiteral, ast.Literal)):
            return True  # a shape computed from parameters: the spec says it may change
        rank, wanted = len(declared), "x".join(map(str, declared))
        example = "x".join(map(str, (*given, *declared[len(given) :])[:rank])) if len(given) < rank else None
        self.report(
            "E0220",
            f"--input gives `{stmt.name}` rank {len(given)} ({'x'.join(map(str, given))}), "
            f"but the spec declares rank {rank} ({wanted})",
            stmt.shape.span,
            notes=[
                "a spec meant to take another rank says so with a parameter: "
                f"`network N(shape: shape = {wanted})` and `input {stmt.name}: shape`"
            ],
            help=f"give all {rank} sizes, e.g. `--input {example}`" if example else f"give {rank} sizes",
        )
        return False

    def _stmt_Assign(self, stmt: ast.Assign, scope: Scope) -> None:
        value = self.evaluator.assigned_value(stmt.name, stmt.value, scope)
        if stmt.name in scope.network_params or stmt.name in op_table.OPS:
            self.report("E0212", f"`{stmt.name}` cannot be reassigned", stmt.span, help="choose another name")
            return
        scope.vars[stmt.name] = value
        self.name_value(stmt.name, value, stmt.span, scope)

    def name_value(self, name: str, value: object, span: Span, scope: Scope) -> None:
        """Keep the spec's name of a tensor, or of each tensor in a list (`skips`), in the IR."""
        if isinstance(value, Tensor):
            self.structure.name_value(ValueName(name, value.node, scope.call, span))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                if isinstance(item, Tensor):
                    self.structure.name_value(ValueName(name, item.node, scope.call, span, index))

    def _stmt_OutputStmt(self, stmt: ast.OutputStmt, scope: Scope) -> None:
        value = self.evaluator.lookup(ast.Name(stmt.name, stmt.span), scope)
        if isinstance(value, Symbol):
            self.evaluator.unknown_name(stmt.name, stmt.span, scope)
        elif not isinstance(value, Poison):
            self.bind_output(stmt.name, value, stmt.span, scope)

    def _stmt_Return(self, stmt: ast.Return, scope: Scope) -> None:
        if scope.kind != "block":
            self.report("E0210", "`return` belongs in a block; a network names outputs with `-> output y`", stmt.span)
            return
        scope.returned = self.eval(stmt.value, scope)

    def _stmt_If(self, stmt: ast.If, scope: Scope) -> None:
        cond = self.evaluator.condition(stmt.cond, scope)
        if isinstance(cond, Poison):
            return
        start = len(self.nodes.created)
        branch = Branch(stmt.span, scope.call, bool(cond), not stmt.otherwise, scope.iterations, start)
        # What the first arm's names hold before it runs: a call that skips it keeps these.
        names = self.body_info(stmt.then).positions
        branch.kept = tuple((n, v.node) for n in names if isinstance(v := scope.vars.get(n), Tensor))
        branch.condition = stmt.cond.id if isinstance(stmt.cond, ast.Name) else None
        self.structure.branches.append(branch)
        self.execute(stmt.then if cond else stmt.otherwise, scope)
        branch.nodes = self.nodes.created[start:]

    def _stmt_For(self, stmt: ast.For, scope: Scope) -> None:
        items = self.eval(stmt.iterable, scope)
        if isinstance(items, Poison):
            return
        if not isinstance(items, (list, tuple, range)):
            self.report(
                "E0207",
                f"cannot loop over {a_type_name(items)}",
                stmt.iterable.span,
                help="loop over `range(n)` or a list",
            )
            return
        for index in self.iterate("for", stmt.span, len(items), scope, tuple(stmt.targets)):
            item = items[index]
            self.evaluator.tick(stmt.span)  # an empty body must count too, or `for` over a long range never ends
            if len(stmt.targets) == 1:
                scope.vars[stmt.targets[0]] = item
            elif isinstance(item, (tuple, list)) and len(item) == len(stmt.targets):
                scope.vars.update(zip(stmt.targets, item))
            else:
                self.report("E0207", f"cannot unpack {item!r} into {len(stmt.targets)} names", stmt.iterable.span)
                return
            self.execute(stmt.body, scope)
            if scope.returned is not None:
                return

    def _stmt_Repeat(self, stmt: ast.Repeat, scope: Scope) -> None:
        count = self.repeat_count(stmt.count, scope)
        for _ in self.iterate("repeat", stmt.span, count, scope):
            self.evaluator.tick(stmt.span)
            self.execute(stmt.body, scope)
            if scope.returned is not None:
                return

    def iterate(self, kind: str, span: Span, count: int, scope: Scope, targets: tuple[str, ...] = ()) -> Iterator[int]:
        """0 .. count-1, recording the loop; nodes and calls made meanwhile know their iteration."""
        loop = Loop(kind, span, count, scope.call, scope.iterations, targets)
        self.structure.loops.append(loop)
        outer = scope.iterations
        try:
            for index in range(count):
                scope.iterations = outer + (Iteration(loop, index),)
                yield index
        finally:  # also when the caller stops early: the generator is closed as it is dropped
            scope.iterations = outer

    def repeat_count(self, expr: ast.Expr, scope: Scope) -> int:
        count = self.eval(expr, scope)
        if isinstance(count, Poison):
            return 0
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            self.report("E0201", f"a repeat count is a non-negative integer, got {count!r}", expr.span)
            return 0
        if count > limits.MAX_NODES:
            raise CnncError(
                Diagnostic(
                    "error",
                    "E0601",
                    f"repeat count {count:,} is too large",
                    expr.span,
                    notes=[f"cnnc refuses networks of more than {limits.MAX_NODES:,} layers"],
                )
            )
        return count

    def _stmt_Shared(self, stmt: ast.Shared, scope: Scope) -> None:
        scope.shared[stmt.name] = SharedInstance(stmt.name, stmt.step)

    def _stmt_Assert(self, stmt: ast.Assert, scope: Scope) -> None:
        cond = self.evaluator.condition(stmt.cond, scope)
        if cond is False:
            message = self.eval(stmt.message, scope) if stmt.message is not None else None
            text = message if isinstance(message, str) else "assertion failed"
            # What follows a failed check is its consequence, not an independent error: stop here.
            raise CnncError(
                Diagnostic("error", "E0504", str(text), stmt.span, notes=["a check written in the spec failed"])
            )

    def _stmt_ChainStmt(self, stmt: ast.ChainStmt, scope: Scope) -> None:
        self.chain(stmt.chain, scope)

    # --- chains and steps ---
    def chain(self, expr: ast.Chain, scope: Scope) -> object:
        value = self.tensor_operand(self.eval(expr.source, scope), expr.source, scope)
        for index, step in enumerate(expr.steps):
            if isinstance(value, Poison):
                self.check_attributes_only(expr.steps[index:], scope)
                return POISON
            value = self.apply_step(value, step, scope)
        return value

    def check_attributes_only(self, steps: list[ast.Step], scope: Scope) -> None:
        """Steps after an error still get their attributes checked: every mistake in one run."""
        for step in steps:
            op = op_table.lookup(step.name) if isinstance(step, ast.CallStep) else None
            if op is not None and step.name not in scope.shared and step.name not in self.program.blocks:
                build_attrs(self.evaluator, op, step.args or [], step.span, scope, report_missing=False)

    def apply_step(self, value: object, step: ast.Step, scope: Scope) -> object:
        if isinstance(step, ast.OutputStep):
            self.bind_output(step.name, value, step.span, scope)
            return value
        if isinstance(step, ast.GroupStep):
            return self.blocks.group(value, step, scope)
        if step.repeat is None:
            return self.call_step(value, step, scope)
        for _ in self.iterate("step", step.span, self.repeat_count(step.repeat, scope), scope):
            if isinstance(value, Poison):
                break
            value = self.call_step(value, step, scope)
        return value

    def bind_output(self, name: str, value: object, span: Span, scope: Scope) -> None:
        if scope.kind != "network":
            self.report("E0210", "`output` belongs in a network; a block ends with `return`", span)
        elif not isinstance(value, Tensor):
            self.report("E0207", f"only a tensor can be an output, not {a_type_name(value)}", span)
        elif name in self.graph.outputs:
            self.report(
                "E0211",
                f"output `{name}` is declared twice",
                span,
                labels=[Label(self.graph.output_spans[name], "first declared here")],
            )
        else:
            self.graph.outputs[name] = value.node
            self.graph.output_spans[name] = span

    def call_step(self, value: object, step: ast.CallStep, scope: Scope) -> object:
        inputs = self.as_inputs(value, step.span)
        if inputs is None:
            return POISON
        if step.name in scope.shared:
            return self.blocks.apply_shared(scope.shared[step.name], value, step, scope)
        if step.name in self.program.blocks:
            return self.blocks.call(self.program.blocks[step.name], value, step, scope)
        op = op_table.lookup(step.name)
        if op is None:
            candidates = iter_chain(op_table.OPS, op_table.ALIASES, self.program.blocks, scope.shared)
            return self.report(
                "E0101", f"unknown op `{step.name}`", step.name_span, help=did_you_mean(step.name, candidates)
            )
        if op.name in ("input",):
            return self.report("E0101", "`input` is a statement, not a step", step.name_span)
        return self.nodes.add_op(op, inputs, step.args or [], step, scope)

    def as_inputs(self, value: object, span: Span) -> list[Tensor] | None:
        if isinstance(value, Tensor):
            return [value]
        if isinstance(value, (tuple, list)) and value and all(isinstance(v, Tensor) for v in value):
            return list(value)
        if not isinstance(value, Poison):
            self.report("E0207", f"a chain needs a tensor here, got {a_type_name(value)}", span)
        return None

    def tensor_operand(self, value: object, expr: ast.Expr, scope: Scope) -> object:
        """A chain's head or a merge's operand: a bare word that names nothing is an unknown name.

        Reported at the word itself, with the nearest tensor in scope as the suggestion (the
        word is where a tensor is expected, so tensors are what it most likely meant).
        """
        if not isinstance(value, Symbol):
            return value
        if op_table.lookup(value) is not None or value in self.program.blocks:
            return self.report(
                "E0209", f"`{value}` needs an input", expr.span, help=f"a chain starts with a tensor: `x -> {value}`"
            )
        tensors = [name for name, bound in scope.vars.items() if isinstance(bound, Tensor)]
        hint = did_you_mean(value, tensors) or did_you_mean(value, scope.visible_names())
        return self.report("E0102", f"unknown name `{value}`", expr.span, help=hint)

    # --- merges called as functions: add(a, b), concat(a, b, c) ---
    def tensor_call(self, call: ast.Call, scope: Scope) -> object:
        op = op_table.lookup(call.func)
        if op is None or op.family != "merge":
            if op is not None or call.func in self.program.blocks:
                return self.report(
                    "E0209", f"`{call.func}` needs an input", call.span, help=f"write `x -> {call.func}(...)`"
                )
            return self.report(
                "E0101",
                f"unknown function `{call.func}`",
                call.func_span,
                help=did_you_mean(
                    call.func, [n for n, o in op_table.OPS.items() if o.family == "merge"] + list(BUILTINS)
                ),
            )
        tensors = [a for a in call.args if a.name is None]
        values = [self.tensor_operand(self.eval(a.value, scope), a.value, scope) for a in tensors]
        if any(isinstance(v, Poison) for v in values):
            return POISON
        inputs: list[Tensor] = []
        for arg, v in zip(tensors, values):
            if not isinstance(v, Tensor):
                return self.report("E0207", f"`{call.func}` takes tensors, got {a_type_name(v)}", arg.value.span)
            inputs.append(v.at(arg.value.span))  # point at the whole operand, not its last step
        keywords = [a for a in call.args if a.name is not None]
        return self.nodes.add_op(op, inputs, keywords, call, scope)


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
