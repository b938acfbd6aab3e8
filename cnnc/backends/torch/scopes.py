"""The spec's structure as modules: one class per distinct block, sequential bodies as nn.Sequential.

A *scope* is the network's body or one block call (`cnnc.ir.calls.Call`).  Its forward pass is
a list of *units* in spec order: a layer made directly in the body, or a child call, which is a
submodule with its own class.  A unit's inputs are the values it reads from outside itself and
its outputs the values it makes that something outside reads, so a block with a tensor argument
(U-Net's `up(x, skip)`) or several results needs nothing special.  Submodules are named by each
node's own name (the Names rule in README), so the state dict's keys are the IR's paths
(`layer1.0.conv1.weight`).  Two calls whose classes come out as the same text share one class
(`Classes`), and so do calls with and without an optional part (`optional.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cnnc.backends.pysource import Namespace, flat
from cnnc.backends.torch.emitters import Emit
from cnnc.backends.torch.lifetimes import Lifetimes
from cnnc.ir.calls import Call, named_lineage
from cnnc.ir.graph import Graph, Node
from cnnc.ir.names import code_name


@dataclass
class Unit:
    """One step of a scope's forward pass: a layer (`node`) or a child call (`call`)."""

    node: Node | None = None
    call: Call | None = None
    nodes: list[Node] = field(default_factory=list)  # every layer it makes, in order
    reads: list[str] = field(default_factory=list)  # values (node ids) it reads from outside
    writes: list[str] = field(default_factory=list)  # values it makes that are read outside
    computed: bool = True  # some output depends on it

    @property
    def own(self) -> str:
        """Its name in the scope: the last part of its path."""
        path = self.node.id if self.node is not None else self.call.path
        return path.rsplit(".", 1)[-1]


def child_of(node: Node, scope: Call | None) -> Call | None:
    """The call directly inside `scope` that made `node` (None: `scope` made it itself).

    An anonymous call (`-> block(args) as _`) is no scope: its layers are modules of the caller, as their
    ids say.  A child module would put its attribute name in front of their state_dict keys, and specs
    call blocks `as _` precisely so that their weights load by the names the layers already have."""
    lineage = named_lineage(node.call)
    if scope is None:
        return lineage[0] if lineage else None
    position = lineage.index(scope)
    return lineage[position + 1] if position + 1 < len(lineage) else None


def units_of(graph: Graph, life: Lifetimes, scope: Call | None, nodes: list[Node], exported: set[str]) -> list[Unit]:
    """`nodes` (the scope's, in order) grouped into units, with what each reads and writes.

    `exported`: the values the scope itself returns (read outside it).
    """
    units: list[Unit] = []
    by_call: dict[int, Unit] = {}
    for node in nodes:
        if node.op.name == "input":
            continue
        child = child_of(node, scope)
        if child is None:
            units.append(Unit(node=node, nodes=[node]))
        elif id(child) not in by_call:
            by_call[id(child)] = Unit(call=child, nodes=[node])
            units.append(by_call[id(child)])
        else:
            by_call[id(child)].nodes.append(node)
    computed = {n.id for n in life.order}
    outputs = {life.value[v] for v in graph.outputs.values()} | exported
    readers: dict[str, set[int]] = {}  # value -> units that read it
    for index, unit in enumerate(units):
        unit.computed = any(n.id in computed for n in unit.nodes)
        inside = {n.id for n in unit.nodes}
        for node in unit.nodes:
            if node.id not in computed:
                continue
            for source in graph.input_ids(node.id):
                value = life.value[source]
                readers.setdefault(value, set()).add(index)
                if value not in inside and value not in unit.reads:
                    unit.reads.append(value)
    for index, unit in enumerate(units):
        for node in unit.nodes:
            made = node.id in computed and life.value[node.id] == node.id
            if made and (readers.get(node.id, set()) - {index} or node.id in outputs):
                unit.writes.append(node.id)
    return units


def attribute(own: str) -> str:
    """`self.name` (reserved words get `_`, as `code_name` gives every backend), or `getattr` for a
    digit name (the item of a sequential body that is not an nn.Sequential)."""
    if own.isdigit():
        return f'getattr(self, "{own}")'
    return f"self.{code_name(own)}"


@dataclass
class ClassText:
    """A block's class as text, before it is named: `__init__` lines, parameters, forward lines."""

    kwargs: list[str]  # the network parameters its layers take (constructor arguments)
    init: list[str]
    forward: list[str]
    inputs: list[str]
    outputs: list[str]
    args: dict[str, object] = field(default_factory=dict)  # block arguments it reads -> this call's values
    flag: str | None = None  # the constructor flag of an optional part (`downsample: bool = False`)
    guarded: tuple[frozenset[int], frozenset[int]] = (frozenset(), frozenset())  # its init, forward lines

    def projection(self) -> ClassText:
        """The class without its optional part: what a call that skips the part runs."""
        init_out, forward_out = self.guarded
        init = [line for i, line in enumerate(self.init) if i not in init_out]
        forward = [line for i, line in enumerate(self.forward) if i not in forward_out]
        text = "\n".join(init)
        args = {k: v for k, v in self.args.items() if reads_arg(k, text)}
        return ClassText(self.kwargs, init, forward, self.inputs, self.outputs, args)

    def key(self) -> tuple:
        """Equal keys share a class: the code without its comments (the shapes they show are one
        call's) and the block arguments it reads, whatever their values."""
        code = tuple(re.sub(r"  # .*$", "", line) for line in self.forward if not line.lstrip().startswith("#"))
        args = tuple((name, type(value).__name__) for name, value in self.args.items())
        return (tuple(self.kwargs), args, tuple(self.init), code, len(self.inputs), len(self.outputs))


def reads_arg(name: str, text: str) -> bool:
    """Does `__init__`'s text read the argument `name` (not as a keyword, not as an attribute)?"""
    return re.search(rf"(?<![.\w]){name}\b(?!=[^=])", text) is not None


def plain_module(emit: Emit, module: str, x: str) -> bool:
    """Does the layer's forward only call its module on its input (so nn.Sequential can hold it)?"""
    return emit.module is not None and not emit.setup and not emit.then and flat(emit.forward) == f"{module}({x})"


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part) or "Block"


class Classes:
    """The generated classes in the order they were first needed, each text once.

    A class with an optional part (`cnnc.backends.torch.optional`) also serves the calls that
    skip it: they are matched by its projection, whichever call comes first.
    """

    def __init__(self, names: Namespace) -> None:
        self.names = names
        self.by_key: dict[tuple, str] = {}
        self.variants: dict[str, int] = {}  # classes of one block so far
        self.written: list[tuple[str, ClassText, str]] = []  # (class name, text, docstring)
        self.by_projection: dict[tuple, int] = {}  # a projection's key -> the class in `written` serving it
        self.with_part: set[int] = set()  # classes in `written` that calls running their optional part use
        self.without_part: set[int] = set()  # ... that calls skipping it use

    def name_for(self, text: ClassText, hint: str, doc: str) -> str:
        key = text.key()
        if key not in self.by_key:
            base = camel(hint)
            self.variants[base] = self.variants.get(base, 0) + 1
            n = self.variants[base]
            self.by_key[key] = self.names(f"class:{len(self.by_key)}", base if n == 1 else f"{base}{n}")
            self.written.append((self.by_key[key], text, doc))
        return self.by_key[key]

    def name_optional(self, text: ClassText, hint: str, doc: str) -> str:
        """A call that runs its block's optional part: the class with the part, written where a call
        that skips the part wrote its projection already."""
        projection = text.projection()
        own_args = tuple(projection.args) == tuple(text.args)  # else the part reads arguments the rest does not
        index = self.by_projection.get(projection.key()) if own_args else None
        if index is not None and self.written[index][1].flag is None:
            name, _, first_doc = self.written[index]  # so far only calls without the part: the class gains it
            self.written[index] = (name, text, first_doc)
        elif index is None or self.written[index][1].key() != text.key():
            index = self._index(self.name_for(text, hint, doc))
            if own_args:
                self.by_projection.setdefault(projection.key(), index)
        self.with_part.add(index)
        return self.written[index][0]

    def name_skipping(self, text: ClassText, projection: ClassText, hint: str, doc: str) -> str:
        """A call that skips its block's optional part: `text` its own class, `projection` the same
        with the part's names bound to their values from before it (`short = x`)."""
        index = self.by_projection.get(projection.key())
        if index is None:
            index = self._index(self.name_for(text, hint, doc))
            self.by_projection.setdefault(projection.key(), index)
        self.without_part.add(index)
        return self.written[index][0]

    def merged(self) -> set[str]:
        """The classes that serve calls with and calls without their optional part."""
        return {self.written[i][0] for i in self.with_part & self.without_part}

    def _index(self, name: str) -> int:
        return next(i for i, (written, _, _) in enumerate(self.written) if written == name)
