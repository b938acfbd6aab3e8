"""The generated `model.py`: one nn.Module class per network, `build_model`, `INPUTS`, `OUTPUTS`.

One pass over the nodes in spec order asks each op's emitter for its code and
writes two things at once: the submodules into `__init__` and the statements
into `forward`.  Variables are reused as values die, so the forward pass reads
like a hand-written one (`x = self.conv1(x)`) and frees memory as early.
"""

from __future__ import annotations

import ast
from collections import Counter

from cnnc.backends.common import channels_first, constructor_params, input_widths, optional_branches
from cnnc.backends.naming import class_name, sanitize
from cnnc.backends.pysource import (
    CodeWriter,
    Expr,
    Namespace,
    PythonCode,
    Seq,
    call,
    comment_text,
    dict_of,
    file_label,
    flat,
    literal,
    quote,
    tuple_of,
)
from cnnc.backends.torch.classes import ScopeWriter, sequential_items
from cnnc.backends.torch.emitters import HELPERS
from cnnc.backends.torch.lifetimes import Lifetimes
from cnnc.backends.torch.optional import arm_profiles
from cnnc.backends.torch.scopes import Classes, ClassText, Unit
from cnnc.backends.torch.site import IN_WIDTH
from cnnc.ir.calls import Branch
from cnnc.ir.graph import Graph

MODULE_LEVEL = frozenset({"torch", "nn", "F", "INPUTS", "OUTPUTS", "build_model", "kwargs", *HELPERS})


class ModelWriter:
    """The file's state: the graph, its lifetimes, the constructor's arguments, the classes."""

    def __init__(self, graph: Graph, optional: dict[int, Branch] | None = None) -> None:
        self.graph = graph
        self.module_names = Namespace(set(MODULE_LEVEL))
        self.cls = self.module_names("network", class_name(graph.name))
        self.kwargs, self.bound = self._constructor_args()
        self.reserved = set(MODULE_LEVEL) | {self.cls}
        names = Namespace(set(self.reserved))
        self.input_names = {node_id: names(f"input:{name}", name) for name, node_id in graph.inputs.items()}
        self.life = Lifetimes.of(graph)
        self.shared = {n.shares for n in graph.topological() if n.shares}
        self.helpers: set[str] = set()
        self.classes = Classes(self.module_names)
        self.defaults = {ident: default for ident, default in self.kwargs.values()}
        self.calls_of = Counter(
            c.block for c in graph.structure.calls if not c.group and not c.anonymous and c.shares is None
        )
        self.order = {node.id: index for index, node in enumerate(graph.topological())}
        # {id(call): its block's optional part}: the calls that share a class with and without it
        self.optional = optional_branches(graph.structure, self.calls_of) if optional is None else optional
        self.profiles = arm_profiles(graph, self.life, self.optional)
        self.class_of: dict[int, str] = {}  # id(call) -> the name of its class

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
        for node_id, param in input_widths(self.graph).items():
            bound.setdefault(node_id, {})[IN_WIDTH] = kwargs[param][0]
        return kwargs, bound

    def network(self) -> ClassText:
        graph = self.graph
        outputs = list(dict.fromkeys(self.life.value[v] for v in graph.outputs.values()))
        writer = ScopeWriter(self, None, list(graph.topological()), list(graph.inputs.values()), outputs)
        text = writer.text()
        text.outputs = [writer.var[self.life.value[v]] for v in graph.outputs.values()]
        return text

    def module_expr(self, parent: ScopeWriter, unit: Unit) -> Expr:
        """A child call's module: an inline nn.Sequential, or its class called with its arguments."""
        child = unit.call
        outer = parent if child.group else None  # a group inline in a class reads the class's arguments
        writer = ScopeWriter(self, child, unit.nodes, unit.reads, unit.writes, outer=outer)
        items = sequential_items(writer) if child.sequential else None
        if items is not None:
            expr: Expr = call("nn.Sequential", *items)
        else:
            writer, cls, text = self._block_class(child, unit)
            args = {name: parent.passed(name, value, unit) for name, value in text.args.items()}
            if text.flag is not None:
                args[text.flag] = "True"
            expr = call(cls, **args, **{k: k for k in text.kwargs})
        parent.use_kwargs(writer.kwargs)
        return expr

    def _block_class(self, child, unit: Unit) -> tuple[ScopeWriter, str, ClassText]:
        """The writer of a child call's class, the class's name, and the call's text."""
        where = file_label(child.span.file) or "the spec"
        kind = f"block `{child.block}`" if not child.group else f"group `{unit.own}`"
        hint, doc = child.block or unit.own, f"{kind}, {where} line {child.span.line}."

        def written(branch: Branch | None = None) -> tuple[ScopeWriter, ClassText]:
            as_class = not child.group
            writer = ScopeWriter(self, child, unit.nodes, unit.reads, unit.writes, as_class=as_class, branch=branch)
            return writer, writer.text()

        branch = self.optional.get(id(child))
        writer, text = written(branch)
        if writer.part is None or writer.part.failed:
            if branch is not None:
                writer, text = written()
            return writer, self.classes.name_for(text, hint, doc), text
        if branch.taken:
            self.class_of[id(child)] = self.classes.name_optional(text, hint, doc)
            return writer, self.class_of[id(child)], text
        plain_writer, plain = written()
        self.class_of[id(child)] = self.classes.name_skipping(plain, text, hint, doc)
        return plain_writer, self.class_of[id(child)], plain

    def merged_parts(self) -> dict[int, Branch]:
        """The optional parts of the calls whose class serves calls with and without the part."""
        merged = self.classes.merged()
        return {key: branch for key, branch in self.optional.items() if self.class_of.get(key) in merged}


def render_model(graph: Graph) -> PythonCode:
    """The source of `model.py` for a checked graph."""
    model = ModelWriter(graph)
    network = model.network()
    if model.merged_parts() != model.optional:  # once more, without the parts no other call shares
        model = ModelWriter(graph, model.merged_parts())
        network = model.network()
    code = CodeWriter()
    for name in sorted(model.helpers):
        code.lines += HELPERS[name] + ["", ""]
    for cls, text, doc in model.classes.written:
        _write_block_class(code, model, cls, text, doc)
        code.lines += ["", ""]
    _write_class(code, model, network)
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
    line = f'"""PyTorch model `{model.cls}`, generated by cnnc{origin}: edit the spec, not this file."""'
    if len(line) <= 120:
        out.line(line)
    else:  # a long name: the line ruff allows, the advice on the next
        out.line(f'"""PyTorch model `{model.cls}`, generated by cnnc{origin}.')
        out.line()
        out.line("Edit the spec, not this file.")
        out.line('"""')
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


def _write_class(code: CodeWriter, model: ModelWriter, text: ClassText) -> None:
    code.line(f"class {model.cls}(nn.Module):")
    with code.indented():
        _write_docstring(code, model)
        code.line()
        params = [("", "self")] + [("", _kwarg(ident, default)) for ident, default in model.kwargs.values()]
        _write_methods(code, params, text)


def _write_block_class(code: CodeWriter, model: ModelWriter, cls: str, text: ClassText, doc: str) -> None:
    code.line(f"class {cls}(nn.Module):")
    with code.indented():
        code.line(f'"""{doc[:1].upper()}{doc[1:]}"""')
        code.line()
        args = [("", f"{name}: {type(value).__name__}") for name, value in text.args.items()]
        if text.flag is not None:
            args.append(("", f"{text.flag}: bool = False"))
        params = [("", "self"), *args] + [("", _kwarg(k, model.defaults[k])) for k in text.kwargs]
        _write_methods(code, params, text)


def _write_methods(code: CodeWriter, params: list[tuple[str, Expr]], text: ClassText) -> None:
    """`__init__` and `forward` of a class body (`text`'s lines are written at method level)."""
    code.statement("", _signature("def __init__", params), " -> None:")
    with code.indented():
        code.line("super().__init__()")
        code.lines += text.init
    code.line()
    args = [("", "self")] + [("", f"{v}: torch.Tensor") for v in text.inputs]
    n = len(text.outputs)
    returns = "torch.Tensor" if n == 1 else f"tuple[{', '.join(['torch.Tensor'] * n)}]"
    code.statement("", _signature("def forward", args), f" -> {returns}:")
    with code.indented():
        code.lines += text.forward
        code.statement("return ", text.outputs[0] if n == 1 else tuple_of(*text.outputs, bare=True))


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
    for node_id in graph.inputs.values():
        code.line(f"    {model.input_names[node_id]}: ({shape(node_id)})")
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
