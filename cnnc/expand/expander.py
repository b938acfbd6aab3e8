"""Expansion: a network's AST, with blocks, loops and parameters, into the IR.

Statements run in order; a name is bound by assignment.  Blocks are expanded
inline under a scope prefix (`layer1.basic2.conv1`), and shapes are inferred
as each node is added, because the structure may depend on them (`in.c`).
Every error is reported and expansion goes on with a poisoned value, so one
run reports every independent mistake.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import chain as iter_chain

from cnnc.diagnostics import CnncError, Diagnostic, Label, Span, did_you_mean
from cnnc.expand.attributes import build_attrs
from cnnc.expand.evaluate import Evaluator
from cnnc.expand.loader import Program
from cnnc.expand.params import bind_arguments, bind_network_params
from cnnc.expand.values import BUILTINS, POISON, Poison, Symbol, Tensor
from cnnc.ir import ops as op_table
from cnnc.ir.attrs import InputAttrs
from cnnc.ir.graph import Graph, Node
from cnnc.ir.names import code_name
from cnnc.ir.ops import Op
from cnnc.ir.shape_math import ShapeError, fmt
from cnnc.passes.shape import infer_shape
from cnnc.syntax import ast

MAX_NODES = 50_000  # the largest classic nets have a few thousand layers
MAX_STEPS = 500_000  # the largest shipped spec takes 2,200; 50,000 layers at 8 steps a layer fit
MAX_BLOCK_DEPTH = 64


@dataclass
class SharedInstance:
    """`shared f = step`: a layer or block whose weights every use shares."""

    name: str
    step: ast.CallStep
    scope: Scope
    uses: int = 0
    template: list[str] = field(default_factory=list)


@dataclass
class Scope:
    kind: str  # "network" | "block"
    prefix: str
    vars: dict[str, object] = field(default_factory=dict)
    frames: list[Frame] = field(default_factory=list)  # the bodies being executed, innermost last
    counters: Counter = field(default_factory=Counter)
    shared: dict[str, SharedInstance] = field(default_factory=dict)
    block_input: object | None = None
    frozen: bool = False
    network_params: frozenset[str] = frozenset()
    returned: object | None = None
    consts: dict[str, object] = field(default_factory=dict)

    def visible_names(self) -> list[str]:
        return list(self.vars) + list(self.consts) + list(self.shared)

    def bound_later(self, name: str) -> tuple[Span, BodyInfo] | None:
        """Where a name not yet bound is assigned further down, if it is."""
        for frame in reversed(self.frames):
            for index, span in frame.info.positions.get(name, ()):
                if index > frame.index:
                    return span, frame.info
        return None


@dataclass
class BodyInfo:
    """What a statement list assigns, and where, and which name reads which."""

    positions: dict[str, list[tuple[int, Span]]]
    stmts: list[ast.Stmt]

    @classmethod
    def of(cls, stmts: list[ast.Stmt]) -> BodyInfo:
        positions: dict[str, list[tuple[int, Span]]] = {}
        for index, stmt in enumerate(stmts):
            for assign in _assignments([stmt]):
                positions.setdefault(assign.name, []).append((index, assign.span))
        return cls(positions, stmts)

    def dependencies(self):
        """Which assigned name reads which (networkx, imported only on this error path)."""
        import networkx

        deps = networkx.DiGraph()
        for assign in _assignments(self.stmts):
            if isinstance(assign, ast.Assign):
                deps.add_edges_from((assign.name, read) for read in _free_names(assign.value))
        return deps


@dataclass
class Frame:
    info: BodyInfo
    index: int = 0


class Expander(Evaluator):
    def __init__(self, program: Program, network: ast.Definition, overrides: dict[str, object] | None = None,
                 input_shapes: dict[str | None, tuple[int, ...]] | None = None):
        super().__init__()
        self.program = program
        self.definition = network
        self.overrides = overrides or {}
        self.input_shapes = input_shapes or {}
        self.graph = Graph(network.name, network.span.file, span=network.span)
        self.created: list[str] = []
        self.value_names: dict[str, str] = {}
        self.block_stack: list[tuple[str, Span]] = []
        self.steps = 0
        self.param_uses: Counter = Counter()
        self.param_direct: Counter = Counter()
        self.const_values: dict[str, object] = {}
        self.const_busy: set[str] = set()
        self._bodies: dict[int, BodyInfo] = {}
        self._assigning: str | None = None
        self.code_names: set[str] = set()  # cnnc.ir.names.code_name of every node id handed out

    # --- entry point ---
    def run(self) -> Graph:
        scope = Scope("network", "", consts=self.const_values)
        params = bind_network_params(self, self.definition, self.overrides, scope)
        scope.vars.update({p.name: p.value for p in params})
        scope.network_params = frozenset(p.name for p in params)
        self.execute(self.definition.body, scope)
        for p in params:
            p.structural = self.param_uses[p.name] > self.param_direct[p.name]
            self.graph.params[p.name] = p
        if not self.graph.outputs and not any(d.is_error for d in self.diagnostics):
            self.report("E0502", f"network `{self.definition.name}` has no output", self.definition.name_span,
                        help="end a chain with `-> output y`")
        return self.graph

    def tick(self, span: Span) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise CnncError(Diagnostic("error", "E0601", "the spec takes too long to expand", span,
                                       notes=[f"cnnc stops after {MAX_STEPS:,} evaluation steps"]))

    # --- names ---
    def lookup(self, name: ast.Name, scope: Scope) -> object:
        if name.id in scope.vars:
            if name.id in scope.network_params:
                self.param_uses[name.id] += 1
            return scope.vars[name.id]
        later = scope.bound_later(name.id)
        if later is not None:
            return self._used_before_bound(name, *later)
        if name.id in self.program.consts:
            return self.const(name.id, name.span)
        return Symbol(name.id)

    def const(self, name: str, span: Span) -> object:
        if name not in self.const_values:
            if name in self.const_busy:
                return self.report("E0401", f"constant `{name}` is defined in terms of itself", span)
            self.const_busy.add(name)
            const = self.program.consts[name]
            self.const_values[name] = self.eval(const.value, Scope("block", "", consts=self.const_values))
            self.const_busy.discard(name)
        return self.const_values[name]

    def _used_before_bound(self, name: ast.Name, defined: Span, info: BodyInfo) -> Poison:
        import networkx

        deps, current = info.dependencies(), self._assigning
        if current in deps and name.id in deps and networkx.has_path(deps, name.id, current):
            path = networkx.shortest_path(deps, name.id, current)
            loop = " -> ".join(f"`{n}`" for n in [current] + path)
            spans = {n: info.positions[n][-1][1] for n in path if n in info.positions}
            return self.report("E0401", f"cycle: {loop}", name.span,
                               labels=[Label(spans[n], f"`{n}` is defined here") for n in path if n in spans],
                               help="a network is acyclic: break the loop or rename one of the values")
        return self.report("E0103", f"`{name.id}` is used before it is defined", name.span,
                           labels=[Label(defined, "defined here")],
                           help=f"move the definition of `{name.id}` above this line")

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
        shape = self.input_shapes.get(stmt.name, self.input_shapes.get(None)) or self.eval(stmt.shape, scope)
        if stmt.name not in self.graph.inputs:
            scope.vars[stmt.name] = POISON  # until it is bound: a bad shape must not make the name unknown
        if isinstance(shape, Poison):
            return
        if isinstance(shape, list):
            shape = tuple(shape)
        if isinstance(shape, int) and not isinstance(shape, bool):
            shape = (shape,)  # a flat vector: `input v: 128`
        if not (isinstance(shape, tuple) and shape and all(_positive_int(d) for d in shape)):
            self.report("E0201", f"an input shape is a list of positive sizes like 32x32x3, got {shape!r}",
                        stmt.shape.span)
            return
        if stmt.name in self.graph.inputs:
            self.report("E0211", f"input `{stmt.name}` is declared twice", stmt.span)
            return
        node = Node(stmt.name, op_table.OPS["input"], InputAttrs(shape=shape, name=stmt.name), stmt.span)
        tensor = self.add_node(node, [], stmt.span)
        if isinstance(tensor, Tensor):
            self.code_names.add(code_name(node.id))
            self.graph.inputs[stmt.name] = node.id
            scope.vars[stmt.name] = tensor
            self.value_names[node.id] = stmt.name

    def _stmt_Assign(self, stmt: ast.Assign, scope: Scope) -> None:
        self._assigning = stmt.name
        value = self.eval(stmt.value, scope)
        self._assigning = None
        if stmt.name in scope.network_params or stmt.name in op_table.OPS:
            self.report("E0212", f"`{stmt.name}` cannot be reassigned", stmt.span,
                        help="choose another name")
            return
        scope.vars[stmt.name] = value
        if isinstance(value, Tensor):
            self.value_names.setdefault(value.node, stmt.name)

    def _stmt_OutputStmt(self, stmt: ast.OutputStmt, scope: Scope) -> None:
        value = self.lookup(ast.Name(stmt.name, stmt.span), scope)
        if isinstance(value, Symbol):
            self._unknown_name(stmt.name, stmt.span, scope)
        elif not isinstance(value, Poison):
            self.bind_output(stmt.name, value, stmt.span, scope)

    def _stmt_Return(self, stmt: ast.Return, scope: Scope) -> None:
        if scope.kind != "block":
            self.report("E0210", "`return` belongs in a block; a network names outputs with `-> output y`",
                        stmt.span)
            return
        scope.returned = self.eval(stmt.value, scope)

    def _stmt_If(self, stmt: ast.If, scope: Scope) -> None:
        cond = self.condition(stmt.cond, scope)
        if not isinstance(cond, Poison):
            self.execute(stmt.then if cond else stmt.otherwise, scope)

    def _stmt_For(self, stmt: ast.For, scope: Scope) -> None:
        items = self.eval(stmt.iterable, scope)
        if isinstance(items, Poison):
            return
        if not isinstance(items, (list, tuple, range)):
            self.report("E0207", f"cannot loop over a {type(items).__name__}", stmt.iterable.span,
                        help="loop over `range(n)` or a list")
            return
        for item in items:
            self.tick(stmt.span)  # an empty body must count too, or `for` over a long range never ends
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
        for _ in range(count):
            self.tick(stmt.span)
            self.execute(stmt.body, scope)
            if scope.returned is not None:
                return

    def repeat_count(self, expr: ast.Expr, scope: Scope) -> int:
        count = self.eval(expr, scope)
        if isinstance(count, Poison):
            return 0
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            self.report("E0201", f"a repeat count is a non-negative integer, got {count!r}", expr.span)
            return 0
        if count > MAX_NODES:
            raise CnncError(Diagnostic("error", "E0601", f"repeat count {count:,} is too large", expr.span,
                                       notes=[f"cnnc refuses networks of more than {MAX_NODES:,} layers"]))
        return count

    def _stmt_Shared(self, stmt: ast.Shared, scope: Scope) -> None:
        scope.shared[stmt.name] = SharedInstance(stmt.name, stmt.step, scope)

    def _stmt_Assert(self, stmt: ast.Assert, scope: Scope) -> None:
        cond = self.condition(stmt.cond, scope)
        if cond is False:
            message = self.eval(stmt.message, scope) if stmt.message is not None else None
            text = message if isinstance(message, str) else "assertion failed"
            # What follows a failed check is its consequence, not an independent error: stop here.
            raise CnncError(Diagnostic("error", "E0504", str(text), stmt.span,
                                       notes=["a check written in the spec failed"]))

    def _stmt_ChainStmt(self, stmt: ast.ChainStmt, scope: Scope) -> None:
        self.chain(stmt.chain, scope)

    # --- chains and steps ---
    def chain(self, expr: ast.Chain, scope: Scope) -> object:
        value = self.eval(expr.source, scope)
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
                build_attrs(self, op, step.args or [], step.span, scope, report_missing=False)

    def apply_step(self, value: object, step: ast.Step, scope: Scope) -> object:
        if isinstance(step, ast.OutputStep):
            self.bind_output(step.name, value, step.span, scope)
            return value
        count = 1 if step.repeat is None else self.repeat_count(step.repeat, scope)
        for _ in range(count):
            if isinstance(value, Poison):
                break
            value = self.call_step(value, step, scope)
        return value

    def bind_output(self, name: str, value: object, span: Span, scope: Scope) -> None:
        if scope.kind != "network":
            self.report("E0210", "`output` belongs in a network; a block ends with `return`", span)
        elif not isinstance(value, Tensor):
            self.report("E0207", f"only a tensor can be an output, not a {type(value).__name__}", span)
        elif name in self.graph.outputs:
            self.report("E0211", f"output `{name}` is declared twice", span,
                        labels=[Label(self.graph.output_spans[name], "first declared here")])
        else:
            self.graph.outputs[name] = value.node
            self.graph.output_spans[name] = span

    def call_step(self, value: object, step: ast.CallStep, scope: Scope) -> object:
        inputs = self.as_inputs(value, step.span)
        if inputs is None:
            return POISON
        if step.name in scope.shared:
            return self.apply_shared(scope.shared[step.name], value, step, scope)
        if step.name in self.program.blocks:
            return self.call_block(self.program.blocks[step.name], value, step, scope)
        op = op_table.lookup(step.name)
        if op is None:
            candidates = iter_chain(op_table.OPS, op_table.ALIASES, self.program.blocks, scope.shared)
            return self.report("E0101", f"unknown op `{step.name}`", step.name_span,
                               help=did_you_mean(step.name, candidates))
        if op.name in ("input",):
            return self.report("E0101", "`input` is a statement, not a step", step.name_span)
        return self.add_op(op, inputs, step.args or [], step, scope)

    def as_inputs(self, value: object, span: Span) -> list[Tensor] | None:
        if isinstance(value, Tensor):
            return [value]
        if isinstance(value, (tuple, list)) and value and all(isinstance(v, Tensor) for v in value):
            return list(value)
        if not isinstance(value, Poison):
            self.report("E0207", f"a chain needs a tensor here, got a {type(value).__name__}", span)
        return None

    def add_op(self, op: Op, inputs: list[Tensor], args: list[ast.Arg], step: ast.CallStep | ast.Call,
               scope: Scope) -> object:
        span = step.span
        if len(inputs) < op.min_inputs or (op.max_inputs is not None and len(inputs) > op.max_inputs):
            want = "one input" if op.max_inputs == 1 else f"at least {op.min_inputs} inputs"
            return self.report("E0209", f"`{op.name}` takes {want}, got {len(inputs)}", span)
        built = build_attrs(self, op, args, span, scope)
        if built is None:
            return POISON
        attrs, frozen, bindings = built
        frozen = frozen or scope.frozen or getattr(attrs, "weights", None) is not None
        alias = step.alias if isinstance(step, ast.CallStep) else None
        node = Node(self.fresh_id(scope, alias or op.name, alias is not None), op, attrs, span,
                    frozen=frozen and op.has_weights, bindings=bindings)
        return self.add_node(node, inputs, span)

    def add_node(self, node: Node, inputs: list[Tensor], span: Span) -> object:
        try:
            node.shape = infer_shape(node, [t.shape for t in inputs])
        except ShapeError as exc:
            return self.shape_error(exc, inputs, span)
        if len(self.graph) >= MAX_NODES:
            raise CnncError(Diagnostic("error", "E0601", f"the network has more than {MAX_NODES:,} layers", span))
        self.graph.add(node, [t.node for t in inputs])
        self.created.append(node.id)
        return Tensor(node.id, node.shape, span)

    def shape_error(self, exc: ShapeError, inputs: list[Tensor], span: Span) -> Poison:
        labels = []
        if exc.operand is not None and exc.operand < len(inputs):
            first, culprit = inputs[0], inputs[exc.operand]
            labels = [Label(first.span, f"this is {fmt(first.shape)}"),
                      Label(culprit.span, f"this is {fmt(culprit.shape)}")]
        return self.report(exc.code, exc.message, span, labels=labels, notes=list(exc.notes), help=exc.help)

    def fresh_id(self, scope: Scope, base: str, explicit: bool) -> str:
        # Explicit names are used as written, then name_2, name_3; automatic ones count
        # from 1 (conv1, conv2), with an underscore after a digit (relu6_1, not relu61).
        sep = "_" if explicit or base[-1].isdigit() else ""
        while True:
            scope.counters[base] += 1
            n = scope.counters[base]
            node_id = scope.prefix + (base if explicit and n == 1 else f"{base}{sep}{n}")
            if node_id not in self.graph and node_id not in self.graph.inputs and \
                    code_name(node_id) not in self.code_names:
                self.code_names.add(code_name(node_id))
                return node_id

    # --- blocks ---
    def call_block(self, block: ast.Definition, value: object, step: ast.CallStep, scope: Scope,
                   prefix: str | None = None) -> object:
        for name, _ in self.block_stack:
            if name == block.name:
                chain_text = " -> ".join(f"`{n}`" for n, _ in self.block_stack) + f" -> `{block.name}`"
                return self.report("E0402", f"block `{block.name}` calls itself", step.name_span,
                                   notes=[f"call chain: {chain_text}"],
                                   labels=[Label(block.name_span, "defined here")],
                                   help="blocks are expanded inline, so they cannot recurse; use `repeat` or a loop")
        if len(self.block_stack) >= MAX_BLOCK_DEPTH:
            return self.report("E0601", "blocks nest too deeply", step.span)
        bound = bind_arguments(self, block, step.args or [], step.span, scope)
        if bound is None:
            return POISON
        args, frozen = bound
        if prefix is None:
            prefix = self.fresh_id(scope, step.alias or block.name, step.alias is not None)
        inner = Scope("block", prefix + ".", vars=args, block_input=value, frozen=scope.frozen or frozen,
                      consts=self.const_values)
        self.block_stack.append((block.name, step.span))
        try:
            self.execute(block.body, inner)
        finally:
            self.block_stack.pop()
        if inner.returned is None:
            return self.report("E0503", f"block `{block.name}` returns nothing", block.name_span,
                               help="end the block with `return <value>`")
        return inner.returned

    def apply_shared(self, shared: SharedInstance, value: object, step: ast.CallStep, scope: Scope) -> object:
        if shared.step.name == shared.name and shared.name not in self.program.blocks:
            return self.report("E0401", f"shared `{shared.name}` is defined in terms of itself", shared.step.span,
                               help="name a layer or a block after `=`: `shared f = conv(8, 3)`")
        shared.uses += 1
        start = len(self.created)
        prefix = shared.name if shared.uses == 1 else f"{shared.name}_{shared.uses}"
        inner = shared.step
        if inner.name in self.program.blocks:
            result = self.call_block(self.program.blocks[inner.name], value, inner, shared.scope, prefix=prefix)
        else:
            fake = ast.CallStep(inner.name, inner.args, None, prefix, inner.span, inner.name_span)
            result = self.call_step(value, fake, shared.scope)
        made = self.created[start:]
        if shared.uses == 1:
            shared.template = made
            return result
        if isinstance(result, Poison):
            return result
        problem = self._share_weights(shared, made, step)
        return result if problem is None else problem

    def _share_weights(self, shared: SharedInstance, made: list[str], step: ast.CallStep) -> object:
        template = [self.graph.node(n) for n in shared.template]
        copies = [self.graph.node(n) for n in made]
        if len(template) != len(copies):
            return self.report("E0306", f"`{shared.name}` expands differently on this input", step.span)
        for first, node in zip(template, copies):
            if (first.op, first.attrs) != (node.op, node.attrs) or \
                    first.op.params(first.attrs, self._input_shapes(first), first.shape) != \
                    node.op.params(node.attrs, self._input_shapes(node), node.shape):
                return self.report("E0306", f"`{shared.name}` cannot share weights between these inputs",
                                   step.span, notes=[f"layer `{first.id}` would need weights of another shape"],
                                   labels=[Label(shared.step.span, "the shared weights are defined here")])
            node.shares = first.id
        return None

    def _input_shapes(self, node: Node) -> list:
        return [self.graph.node(i).shape for i in self.graph.input_ids(node.id)]

    # --- merges called as functions: add(a, b), concat(a, b, c) ---
    def tensor_call(self, call: ast.Call, scope: Scope) -> object:
        op = op_table.lookup(call.func)
        if op is None or op.family != "merge":
            if op is not None or call.func in self.program.blocks:
                return self.report("E0209", f"`{call.func}` needs an input", call.span,
                                   help=f"write `x -> {call.func}(...)`")
            return self.report("E0101", f"unknown function `{call.func}`", call.func_span,
                               help=did_you_mean(call.func, [n for n, o in op_table.OPS.items()
                                                             if o.family == "merge"] + list(BUILTINS)))
        tensors = [a for a in call.args if a.name is None]
        values = [self.eval(a.value, scope) for a in tensors]
        if any(isinstance(v, Poison) for v in values):
            return POISON
        inputs: list[Tensor] = []
        for arg, v in zip(tensors, values):
            if not isinstance(v, Tensor):
                return self.report("E0207", f"`{call.func}` takes tensors, got a {type(v).__name__}",
                                   arg.value.span)
            inputs.append(v.at(arg.value.span))  # point at the whole operand, not its last step
        keywords = [a for a in call.args if a.name is not None]
        return self.add_op(op, inputs, keywords, call, scope)


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _assignments(stmts: list[ast.Stmt]) -> list[ast.Assign | ast.InputStmt]:
    """The statements that bind a name, nested bodies included, in order."""
    found: list[ast.Assign | ast.InputStmt] = []
    for stmt in stmts:
        if isinstance(stmt, (ast.Assign, ast.InputStmt)):
            found.append(stmt)
        elif isinstance(stmt, ast.If):
            found += _assignments(stmt.then) + _assignments(stmt.otherwise)
        elif isinstance(stmt, (ast.For, ast.Repeat)):
            found += _assignments(stmt.body)
    return found


def _free_names(expr: object) -> set[str]:
    """Names an expression reads (a syntactic over-approximation)."""
    found: set[str] = set()
    stack = [expr]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Name):
            found.add(item.id)
        elif isinstance(item, list):
            stack.extend(item)
        elif hasattr(item, "__dataclass_fields__") and not isinstance(item, Span):
            stack.extend(getattr(item, f) for f in item.__dataclass_fields__ if f != "span")
    return found
