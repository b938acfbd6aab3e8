"""The generated `model.py`: one nn.Module class per network, `build_model`, `INPUTS`, `OUTPUTS`.

One pass over the nodes in spec order asks each op's emitter for its code and
writes two things at once: the submodules into `__init__` and the statements
into `forward`.  Variables are reused as values die, so the forward pass reads
like a hand-written one (`x = self.conv1(x)`) and frees memory as early.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from cnnc.backends.common import channels_first, constructor_params
from cnnc.backends.naming import class_name, layer_name, sanitize
from cnnc.backends.pysource import (
    CodeWriter,
    Expr,
    Namespace,
    PythonCode,
    Seq,
    comment_text,
    dict_of,
    file_label,
    flat,
    literal,
    quote,
    tuple_of,
)
from cnnc.backends.torch.emitters import EMITTERS, HELPERS, Emit, Site
from cnnc.backends.torch.lifetimes import Lifetimes
from cnnc.ir.graph import Graph, Node
from cnnc.ir.names import MODULE_ATTRIBUTES

MODULE_LEVEL = frozenset({"torch", "nn", "F", "INPUTS", "OUTPUTS", "build_model", "kwargs", *HELPERS})


@dataclass
class Body:
    """The class body as it is built: `__init__` and `forward` statements, helpers they call."""

    init: CodeWriter = field(default_factory=lambda: CodeWriter(level=2))
    forward: CodeWriter = field(default_factory=lambda: CodeWriter(level=2))
    helpers: set[str] = field(default_factory=set)


class ModelWriter:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.module_names = Namespace(set(MODULE_LEVEL))
        self.cls = self.module_names("network", class_name(graph.name))
        self.attrs = Namespace(set(MODULE_ATTRIBUTES), attributes=True)
        self.kwargs, self.bound = self._constructor_args()
        self.locals = Namespace(set(MODULE_LEVEL) | {self.cls})
        self.inputs = {name: self.locals(f"input:{name}", name) for name in graph.inputs}
        self.life = Lifetimes.of(graph)
        self.var: dict[str, str] = {node_id: self.inputs[name] for name, node_id in graph.inputs.items()}
        self.free: list[str] = []
        self.temps = 0
        self.body = Body()
        self.last_where: str | None = None

    # --- names ---
    def _constructor_args(self) -> tuple[dict[str, tuple[str, object]], dict[str, dict[str, str]]]:
        """{param: (identifier, default)}, and {node id: {attribute: identifier}}."""
        names = Namespace(set(MODULE_LEVEL) | {self.cls})
        kwargs: dict[str, tuple[str, object]] = {}
        bound: dict[str, dict[str, str]] = {}
        usable = constructor_params(self.graph)
        for param, sites in ((p, usable[p]) for p in self.graph.params if p in usable):
            ident = names(param, param)
            node_id, attr = sites[0]
            kwargs[param] = (ident, getattr(self.graph.node(node_id).attrs, attr))
            for node_id, attr in sites:
                bound.setdefault(node_id, {})[attr] = ident
        return kwargs, bound

    def module_of(self, node: Node) -> str:
        owner = self.graph.weight_owner(node)
        return "self." + self.attrs(owner.id, layer_name(owner.id))

    def temp(self) -> str:
        if self.free:
            return self.free.pop(0)
        self.temps += 1
        return self.locals(f"temp:{self.temps}", "h" if self.temps == 1 else f"h{self.temps - 1}")

    def release(self, name: str) -> None:
        if name not in self.inputs.values() and name not in self.free:
            self.free.append(name)
            self.free.sort(key=lambda n: (len(n), n))

    # --- the pass ---
    def build(self) -> Body:
        computed = {n.id: pos for pos, n in enumerate(self.life.order)}
        shared = {n.shares for n in self.graph.topological() if n.shares}
        for node in self.graph.topological():
            if node.op.name == "input":
                continue
            pos = computed.get(node.id)
            site = self._site(node, pos, shared)
            emit = EMITTERS[node.op.name](site)
            self._write_init(node, site, emit)
            if pos is not None:
                self._write_forward(node, pos, site, emit)
        return self.body

    def _site(self, node: Node, pos: int | None, shared: set[str]) -> Site:
        inputs = self.graph.input_ids(node.id)
        args = [self.var.get(self.life.value.get(i, i), "_") for i in inputs]
        return Site(
            node,
            [self.graph.node(i).shape for i in inputs],
            args,
            lambda: self.module_of(node),
            bound=self.bound.get(node.id, {}),
            inplace=None if pos is None else self.life.overwritable(self.graph, node),
            shared=bool(node.shares) or node.id in shared,
        )

    def _write_init(self, node: Node, site: Site, emit: Emit) -> None:
        if emit.module is None or node.shares:
            return
        target = site.module
        self.body.init.statement(f"{target} = ", emit.module)
        for depth, lead, expr in emit.setup:
            self.body.init.level += depth
            if expr is None:
                self.body.init.line(lead)
            else:
                self.body.init.statement(lead, expr)
            self.body.init.level -= depth
        if node.frozen:
            self.body.init.line(f"{target}.requires_grad_(False)")

    def _write_forward(self, node: Node, pos: int, site: Site, emit: Emit) -> None:
        self.body.helpers.update(emit.helpers)
        inputs = self.graph.input_ids(node.id)
        dying = [self.life.value[i] for i in inputs if self.life.last_value_use[self.life.value[i]] == pos]
        dying = list(dict.fromkeys(dying))
        if emit.forward is None:  # identity: the value is its input's
            self.var[node.id] = self.var[self.life.value[node.id]]
            dying = [v for v in dying if v != self.life.value[node.id]]
        else:
            target = self._target(site, emit, dying)
            comment = self._comment(node, site)
            writer = self.body.forward
            if emit.augmented:
                writer.statement(f"{target} {emit.augmented}= ", emit.forward, comment=comment)
            else:
                writer.statement(f"{target} = ", emit.forward, comment=comment)
            for follow in emit.then:
                writer.statement(f"{target} = ", follow.format(target))
            self.var[node.id] = target
            dying = [v for v in dying if self.var[v] != target]
        for value in dying:
            self.release(self.var[value])

    def _target(self, site: Site, emit: Emit, dying: list[str]) -> str:
        if emit.inplace:
            return site.args[site.inplace]
        return self.var[dying[0]] if dying else self.temp()

    def _comment(self, node: Node, site: Site) -> str | None:
        where = f"line {node.span.line}"
        if node.span.file != self.graph.file and file_label(node.span.file):
            where = f"{file_label(node.span.file)}:{node.span.line}"
        shown = where if where != self.last_where else None
        self.last_where = where
        if node.shape == site.shape:
            return shown
        return f"{shown or where} -> {'x'.join(map(str, channels_first(node.shape)))}"


def render_model(graph: Graph) -> PythonCode:
    """The source of `model.py` for a checked graph."""
    model = ModelWriter(graph)
    body = model.build()
    code = CodeWriter()
    for name in sorted(body.helpers):
        code.lines += HELPERS[name] + ["", ""]
    _write_class(code, model, body)
    code.lines += ["", ""]
    code.line(f"def build_model(**kwargs) -> {model.cls}:")
    with code.indented():
        code.line(f'"""A new `{model.cls}`; keyword arguments override the constructor\'s defaults."""')
        code.line(f"return {model.cls}(**kwargs)")
    used = {n.id for n in ast.walk(ast.parse("\n".join(code.lines))) if isinstance(n, ast.Name)}
    out = CodeWriter()
    _write_header(out, graph, model, "F" in used)
    out.lines += ["", ""] + code.lines
    return out.result(model.cls, "build_model", "INPUTS", "OUTPUTS")


def _write_header(out: CodeWriter, graph: Graph, model: ModelWriter, uses_functional: bool) -> None:
    name = file_label(graph.file)
    origin = f" from {name}" if name else ""
    out.line(f'"""PyTorch model `{model.cls}`, generated by cnnc{origin}: edit the spec, not this file."""')
    fixed = [p for p in graph.params.values() if p.name not in model.kwargs]
    if fixed:
        out.line()
        out.line("# Resolved at compile time (cnnc compile --set NAME=VALUE):")
        for param in fixed:
            out.line(f"#   {sanitize(param.name)} = {comment_text(_shown(param.value))}")
    out.line()
    out.line("import torch")
    if uses_functional:
        out.line("import torch.nn.functional as F")
    out.line("from torch import nn")
    out.line()
    out.statement("INPUTS = ", _shapes(graph, graph.inputs))
    out.statement("OUTPUTS = ", _shapes(graph, graph.outputs))


def _shown(value: object) -> str:
    try:
        return flat(literal(value))
    except TypeError:
        return repr(value)


def _shapes(graph: Graph, named: dict[str, str]) -> Expr:
    """{name: channels-first shape without the batch}."""
    return dict_of([(quote(name), literal(channels_first(graph.node(i).shape))) for name, i in named.items()])


def _write_class(code: CodeWriter, model: ModelWriter, body: Body) -> None:
    graph = model.graph
    code.line(f"class {model.cls}(nn.Module):")
    with code.indented():
        _write_docstring(code, model)
        code.line()
        params = [("", "self")] + [("", _kwarg(ident, default)) for ident, default in model.kwargs.values()]
        code.statement("", _signature("def __init__", params), " -> None:")
        with code.indented():
            code.line("super().__init__()")
            code.lines += body.init.lines
        code.line()
        args = [("", "self")] + [("", f"{v}: torch.Tensor") for v in model.inputs.values()]
        outputs = [model.var[model.life.value[i]] for i in graph.outputs.values()]
        returns = "torch.Tensor" if len(outputs) == 1 else f"tuple[{', '.join(['torch.Tensor'] * len(outputs))}]"
        code.statement("", _signature("def forward", args), f" -> {returns}:")
        with code.indented():
            code.lines += body.forward.lines
            code.statement("return ", outputs[0] if len(outputs) == 1 else tuple_of(*outputs, bare=True))


def _signature(head: str, params: list[tuple[str, Expr]]) -> Seq:
    return Seq(head, "(", tuple(params), ")")


def _kwarg(ident: str, default: object) -> str:
    kind = type(default).__name__ if isinstance(default, (bool, int, float)) else None
    return f"{ident}: {kind} = {flat(literal(default))}" if kind else f"{ident}={flat(literal(default))}"


def _write_docstring(code: CodeWriter, model: ModelWriter) -> None:
    graph = model.graph

    def shape(node_id: str) -> str:
        return ", ".join(["N"] + [str(d) for d in channels_first(graph.node(node_id).shape)])

    code.line(f'"""{model.cls}, generated by cnnc.')
    code.line()
    code.line("Inputs:")
    for name, node_id in graph.inputs.items():
        code.line(f"    {model.inputs[name]}: ({shape(node_id)})")
    code.line()
    code.line("Outputs:")
    for name, node_id in graph.outputs.items():
        code.line(f"    {sanitize(name)}: ({shape(node_id)})")
    if model.kwargs:
        code.line()
        code.line("Args:")
        for param, (ident, default) in model.kwargs.items():
            code.line(f"    {ident}: network parameter `{sanitize(param)}` (default {flat(literal(default))}).")
    code.line('"""')
