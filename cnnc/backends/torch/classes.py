"""Writing one scope (the network or a block call) as a class body.

`ScopeWriter` writes a scope's `__init__` (its layers and its children's modules) and its
`forward` (one statement per unit, in spec order, the spec's value names as locals where it
named them).  A child call becomes `self.name = Child(...)`, or an inline `nn.Sequential(...)`
when it is a sequential body whose items form a chain of modules.  `scopes.Classes` keeps the
classes written so far: equal texts share a class (ResNet's blocks), others get a number.
"""

from __future__ import annotations

import keyword

from cnnc.backends.common import channels_first
from cnnc.backends.pysource import CodeWriter, Expr, Namespace, Seq, call, file_label, literal, tuple_of
from cnnc.backends.torch.emitters import EMITTERS, Emit, Site
from cnnc.backends.torch.lifetimes import Lifetimes
from cnnc.backends.torch.optional import OptionalPart
from cnnc.backends.torch.scopes import ClassText, Unit, attribute, plain_module, reads_arg, units_of
from cnnc.backends.torch.site import IN_WIDTH
from cnnc.ir.calls import Branch, Call, named
from cnnc.ir.graph import Graph, Node

# Functions whose torch.nn module takes the same arguments after the input (nn.Sequential holds
# modules); `training=` is the module's own state and is dropped.
NN_MODULES = {
    "F.relu": "nn.ReLU", "F.relu6": "nn.ReLU6", "F.silu": "nn.SiLU", "F.dropout": "nn.Dropout",
    "F.hardswish": "nn.Hardswish", "F.hardsigmoid": "nn.Hardsigmoid", "F.leaky_relu": "nn.LeakyReLU",
    "F.elu": "nn.ELU",
    "F.max_pool1d": "nn.MaxPool1d", "F.max_pool2d": "nn.MaxPool2d", "F.max_pool3d": "nn.MaxPool3d",
    "F.avg_pool1d": "nn.AvgPool1d", "F.avg_pool2d": "nn.AvgPool2d", "F.avg_pool3d": "nn.AvgPool3d",
    "F.adaptive_avg_pool1d": "nn.AdaptiveAvgPool1d", "F.adaptive_avg_pool2d": "nn.AdaptiveAvgPool2d",
    "torch.sigmoid": "nn.Sigmoid", "torch.tanh": "nn.Tanh", "x.flatten": "nn.Flatten",
}  # fmt: skip


class ScopeWriter:
    """One scope's class text: `model` is the file's writer (graph, lifetimes, classes, bound args)."""

    def __init__(
        self,
        model,
        scope: Call | None,
        nodes: list[Node],
        inputs: list[str],
        outputs: list[str],
        as_class: bool = False,
        outer: ScopeWriter | None = None,
        branch: Branch | None = None,
    ) -> None:
        self.model, self.scope = model, scope
        # A class's constructor takes the block arguments its text reads (`filters`, `stride`, the
        # input's width as `in_channels`), so calls that differ only in those share the class; a
        # group written inline in a class (`downsample`) reads the class's arguments.
        self.outer = outer if outer is not None and outer.block_args is not None else None
        self.block_args = block_args(model, scope) if as_class else (self.outer.block_args if self.outer else None)
        self._bound: dict[str, dict[str, str]] = {}
        self.graph: Graph = model.graph
        self.life: Lifetimes = model.life
        self.units = units_of(self.graph, self.life, scope, nodes, set(outputs))
        # an optional part (`if ... { short = in -> downsample }`) written so that calls without it share the class
        self.part = OptionalPart.locate(self, branch) if branch is not None and as_class else None
        self.spare: frozenset[str] = frozenset()  # values not to overwrite in place (the optional part's)
        self.reads = [self._reads(unit) for unit in self.units]
        self.locals = Namespace({"torch", "nn", "F", *model.reserved})
        self.names = spec_names(self.graph, scope)
        self.var: dict[str, str] = {}
        self.holder: dict[str, str] = {}  # variable -> the value it holds
        self.input_values = inputs
        self.inputs = [self._param(i, value) for i, value in enumerate(inputs)]
        self.outputs = outputs
        self.last = self._last_uses()
        self.init, self.forward = CodeWriter(level=2), CodeWriter(level=2)
        self.kwargs: list[str] = []
        self.last_where: str | None = None

    def _param(self, index: int, value: str) -> str:
        if self.scope is None:
            name = self.model.input_names[value]
        else:
            hint = self._arg_name(value) or ("x" if index == 0 else f"x{index}")
            name = self.locals(hint, hint)
        self.var[value], self.holder[name] = name, value
        return name

    def _arg_name(self, value: str) -> str | None:
        """A tensor argument's parameter name (`up(x, skip)`); the block's own input is `x`."""
        for name, arg in self.scope.args.items():
            if getattr(arg, "node", None) == value:
                return name
        return None

    def _reads(self, unit: Unit) -> list[str]:
        """What the unit reads: `unit.reads`, but where a skipped optional part's name is read
        (`add(main, short)` without `downsample`), the name (`<kept short>`) rather than its value."""
        renamed = self.part.renamed if self.part is not None else {}
        if not renamed:
            return unit.reads
        inside, reads = {n.id for n in unit.nodes}, []
        for node in unit.nodes:
            for slot, source in enumerate(self.graph.input_ids(node.id) if node.id in self.life.value else ()):
                value = self.life.value[source]
                read = renamed.get((node.id, slot), value)
                if value not in inside and read not in reads:
                    reads.append(read)
        if unit.call is not None and len(reads) != len(unit.reads):
            self.part.failed = True  # a child reads the value both by its name and otherwise
        return reads

    def _last_uses(self) -> dict[str, float]:
        last: dict[str, float] = {}
        for index, reads in enumerate(self.reads):
            for value in reads:
                last[value] = index
        for value in self.outputs:
            last[value] = len(self.units)
        if self.part is not None:  # a skipped part read these where it would have run
            for value in self.part.arm_reads:
                last[value] = max(last.get(value, -1), self.part.first - 0.5)
        return last

    # --- the class text ---
    def text(self) -> ClassText:
        part = self.part
        for index, unit in enumerate(self.units):
            if part is not None and index == part.first:
                part.open(self, index)
            if unit.node is not None:
                self._layer(index, unit)
            else:
                self._child(index, unit)
            if part is not None and part.branch.taken and index == part.end - 1:
                part.close(self)
                self.spare = frozenset(part.written(self))
        if part is not None and part.first == len(self.units):
            part.open(self, len(self.units))
        returned = [self.var[v] for v in self.outputs]
        args = {}
        if self.block_args is not None and self.outer is None:
            width = {"in_channels": self.graph.node(self.input_values[0]).shape[-1]} if self.input_values else {}
            candidates = {**width, **self.block_args}
            text = "\n".join(self.init.lines)
            flag = part.flag if part is not None else None
            args = {k: v for k, v in candidates.items() if reads_arg(k, text) and k != flag}
        text = ClassText(self.kwargs, self.init.lines, self.forward.lines, self.inputs, returned, args)
        if part is not None and part.branch.taken and not part.failed:
            text.flag = part.flag
            text.guarded = (frozenset(part.guarded_init), frozenset(part.guarded_forward))
        return text

    # --- block arguments as constructor arguments ---
    def arg_expr(self, key: str, value: object) -> str | None:
        """The block argument `key` as source where `value` is it or a small multiple of it (`4 * filters`)."""
        if self.block_args is None or key not in self.block_args:
            return None
        given = self.block_args[key]
        if type(given) is type(value) and given == value:
            return key
        if type(given) is int and type(value) is int and given > 0 and value % given == 0 and 2 <= value // given <= 16:
            return f"{value // given} * {key}"
        return None

    def block_bound(self, node: Node) -> dict[str, str]:
        """{attribute: source} of a layer of this body that reads the block's arguments."""
        if self.block_args is None or named(node.call) is not self.scope:
            return {}
        if node.id not in self._bound:
            bound = {}
            for attr in ("filters", "units"):  # a width: the argument of that name, or a multiple of it
                if attr in type(node.attrs).model_fields:
                    expr = self.arg_expr(attr, getattr(node.attrs, attr))
                    if expr is not None:
                        bound[attr] = expr
            param = node.arguments.get("stride")  # a stride only where the spec writes the argument
            if param is not None and param in self.block_args:
                bound["stride"] = param
            self._bound[node.id] = bound
            inputs = self.graph.input_ids(node.id)
            width = self.width_expr(inputs[0]) if inputs else None
            if width is not None:
                bound[IN_WIDTH] = width
        return self._bound[node.id]

    def width_expr(self, node_id: str) -> str | None:
        """The channels of value `node_id` as source: `in_channels` for the block's input, a layer's
        bound width, passed on by the layers that keep it; None: a literal."""
        if self.block_args is None:
            return None
        value = self.life.value.get(node_id, node_id)
        if value in self.input_values:
            if self.outer is not None:
                return self.outer.width_expr(node_id)
            return "in_channels" if value == self.input_values[0] else None
        node = self.graph.node(node_id)
        if named(node.call) is not self.scope or node.op.name == "input":
            return None
        if node.op.width_attr:
            return self.block_bound(node).get(node.op.width_attr)
        inputs = self.graph.input_ids(node_id)
        if len(inputs) == 1 and node.shape[-1] == self.graph.node(inputs[0]).shape[-1]:
            return self.width_expr(inputs[0])
        return None

    def passed(self, name: str, value: object, unit: Unit) -> Expr:
        """What this body passes a child's constructor for its argument `name`."""
        if name == "in_channels":
            return self.width_expr(unit.reads[0]) or literal(value)
        return self.arg_expr(name, value) or literal(value)

    def use_kwargs(self, idents) -> None:
        for ident in idents:
            if ident not in self.kwargs:
                self.kwargs.append(ident)

    def _site(self, unit: Unit, args: list[str] | None = None, module: str | None = None, inplace: bool = True) -> Site:
        node = unit.node
        owner = self.graph.weight_owner(node)
        ref = module or attribute(owner.id.rsplit(".", 1)[-1])
        inputs = self.graph.input_ids(node.id)
        if args is None:
            renamed = self.part.renamed if self.part is not None else {}
            reads = [renamed.get((node.id, slot)) or self.life.value.get(i, i) for slot, i in enumerate(inputs)]
            args = [self.var.get(value, "_") for value in reads]
        network = self.model.bound.get(node.id, {})
        self.use_kwargs(network.values())
        bound = {**self.block_bound(node), **network}
        return Site(
            node,
            [self.graph.node(i).shape for i in inputs],
            args,
            lambda: ref,
            bound=bound,
            inplace=self.life.overwritable(self.graph, node, self.spare) if unit.computed and inplace else None,
            shared=bool(node.shares) or node.id in self.model.shared,
        )

    def _layer(self, index: int, unit: Unit) -> None:
        node = unit.node
        site = self._site(unit)
        emit = EMITTERS[node.op.name](site)
        if emit.module is not None and not node.shares:
            self._assign(unit.own, emit.module)
            for depth, lead, expr in emit.setup:
                self.init.level += depth
                self.init.line(lead) if expr is None else self.init.statement(lead, expr)
                self.init.level -= depth
            if node.frozen:
                self.init.line(f"{attribute(unit.own)}.requires_grad_(False)")
        if unit.computed and emit.forward is not None:
            self.model.helpers.update(emit.helpers)
            dying = self._dying(index, unit)
            target = site.args[site.inplace] if emit.inplace else self._target(node.id, dying, index)
            comment = self._comment(node.span, node.shape, site.shape)
            op = f" {emit.augmented}= " if emit.augmented else " = "
            self.forward.statement(target + op, emit.forward, comment=comment)
            for follow in emit.then:
                self.forward.statement(f"{target} = ", follow.format(target))
            self._bind(node.id, target)

    def _assign(self, own: str, expr: Expr) -> None:
        if not own.isdigit():
            self.init.statement(f"{attribute(own)} = ", expr)
        else:
            self.init.statement("", call("self.add_module", f'"{own}"', expr))

    def _child(self, index: int, unit: Unit) -> None:
        child = unit.call
        owner = child.shares or child
        if child.shares is None:
            self._assign(unit.own, self.model.module_expr(self, unit))
        if not unit.computed:
            return
        args = [self.var[v] for v in self.reads[index]]
        dying = self._dying(index, unit)
        targets = [self._target(v, dying, index) for v in unit.writes]
        last = self.graph.node(unit.writes[-1]) if unit.writes else unit.nodes[-1]
        first_in = self.graph.node(unit.reads[0]).shape if unit.reads else last.shape
        comment = self._comment(child.span, last.shape, first_in)
        lead = (", ".join(targets) + " = ") if targets else ""
        self.forward.statement(lead, call(attribute(owner.path.rsplit(".", 1)[-1]), *args), comment=comment)
        for value, target in zip(unit.writes, targets):
            self._bind(value, target)

    # --- variables ---
    def _dying(self, index: int, unit: Unit) -> list[str]:
        return [self.var[v] for v in self.reads[index] if self.last.get(v) == index and v in self.var]

    def _busy(self, name: str, index: int) -> bool:
        """Does `name` hold a value still read after unit `index`?"""
        held = self.holder.get(name)
        return held is not None and self.var.get(held) == name and self.last.get(held, -1) > index

    def _target(self, value: str, dying: list[str], index: int) -> str:
        """The spec's name for the value where it gave one, else a dying input's variable, else a temporary."""
        for spec in self.names.get(value, ()):
            name = self.locals(spec, spec)
            if not self._busy(name, index):
                return name
        for name in dying:
            if not self._busy(name, index):
                dying.remove(name)
                return name
        n = 0
        while self._busy(self._temp(n), index):
            n += 1
        return self._temp(n)

    def _temp(self, n: int) -> str:
        name = "h" if n == 0 else f"h{n}"
        return self.locals(name, name)

    def _bind(self, value: str, name: str) -> None:
        old = self.holder.get(name)
        if old is not None and self.var.get(old) == name:
            del self.var[old]
        self.var[value], self.holder[name] = name, value

    def _comment(self, span, shape, in_shape) -> str | None:
        where = f"line {span.line}"
        if span.file != self.graph.file and file_label(span.file):
            where = f"{file_label(span.file)}:{span.line}"
        shown = where if where != self.last_where else None
        self.last_where = where
        if shape == in_shape:
            return shown
        return f"{shown or where} -> {'x'.join(map(str, channels_first(shape)))}"


def block_args(model, scope: Call | None) -> dict[str, object] | None:
    """The arguments of a block call that its class may take: numbers and booleans, under names no
    generated identifier and no network parameter uses, for a block the spec calls more than once."""
    if scope is None or scope.group or scope.shares is not None or model.calls_of[scope.block] < 2:
        return None  # a block called once keeps its numbers: its class serves no other call
    taken = {"self", "in_channels", *model.reserved, *model.defaults}
    return {
        name: value
        for name, value in scope.args.items()
        if type(value) in (int, float, bool)
        and name.isidentifier()
        and not keyword.iskeyword(name)
        and name not in taken
    }


def spec_names(graph: Graph, scope: Call | None) -> dict[str, list[str]]:
    """The names a body gave each value, most specific first: a list item (`skips[2]` -> `skips_2`,
    kept apart from the loop variable that also held it), then the whole name (`short`)."""
    names: dict[str, list[str]] = {}
    for value in graph.structure.values:
        if named(value.call) is scope:
            name = value.name if value.index is None else f"{value.name}_{value.index}"
            names.setdefault(value.node, [])
            if name not in names[value.node]:
                names[value.node].insert(0 if value.index is not None else len(names[value.node]), name)
    return names


def sequential_items(writer: ScopeWriter) -> list[Expr] | None:
    """A sequential body's items as modules, or None when it is not a plain chain of modules."""
    if len(writer.input_values) != 1 or len(writer.outputs) != 1:
        return None
    previous = writer.input_values[0]
    for index, unit in enumerate(writer.units):
        if unit.reads != [previous] or len(unit.writes) > 1 or not unit.computed:
            return None
        if unit.own != str(index):  # an item named `as name`: nn.Sequential would call it by its index
            return None
        if (unit.call is not None and unit.call.shares) or (unit.node and _layer_item(writer, unit) is None):
            return None
        previous = unit.writes[0] if unit.writes else writer.life.value[unit.nodes[-1].id]
    if writer.outputs != [previous]:
        return None
    return [_layer_item(writer, u) if u.node is not None else writer.model.module_expr(writer, u) for u in writer.units]


def _layer_item(writer: ScopeWriter, unit: Unit) -> Expr | None:
    """The layer as an item of nn.Sequential: its module, or the torch.nn module of its function
    (in place where it may be, `nn.SiLU(inplace=True)`, if the module can say so)."""
    node = unit.node
    if node.shares or node.frozen:
        return None
    for inplace in (True, False):
        site = writer._site(unit, args=["x"], module="self.m", inplace=inplace)
        emit: Emit = EMITTERS[node.op.name](site)
        if plain_module(emit, "self.m", "x"):
            return emit.module
        item = functional_module(emit)
        if item is not None or site.inplace is None:
            return item
    return None


def functional_module(emit: Emit) -> Expr | None:
    """`F.max_pool2d(x, 3, stride=2)` as `nn.MaxPool2d(3, stride=2)`, where torch.nn has the module."""
    expr = emit.forward
    if emit.module is not None or emit.then or emit.helpers or not isinstance(expr, Seq):
        return None
    if not isinstance(expr.head, str) or expr.head not in NN_MODULES:
        return None
    items = expr.items if expr.head == "x.flatten" else expr.items[1:]
    if expr.head != "x.flatten" and (not expr.items or expr.items[0] != ("", "x")):
        return None
    kept = [(prefix, value) for prefix, value in items if prefix != "training="]
    if expr.head == "x.flatten" and kept != [("", "1")]:
        return None
    if expr.head == "x.flatten":
        kept = []
    return Seq(NN_MODULES[expr.head], "(", tuple(kept), ")")


def tuple_return(names: list[str]) -> Expr:
    return names[0] if len(names) == 1 else tuple_of(*names, bare=True)
