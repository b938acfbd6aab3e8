"""The state of one generated Keras builder: names, lines, and what the file needs.

Emitters (`emit.py`) call `layer` for a node's own layer (named `layer_name(node.id)`,
so weights map by name across backends) and `aux` for a weightless helper layer
(padding, subsampling).  Sharing, freezing, comments and network-parameter
arguments are handled here once, not in each emitter.
"""

from __future__ import annotations

from pathlib import Path

from cnnc.backends.common import constructor_params
from cnnc.backends.keras.writer import Writer, literal
from cnnc.backends.naming import Namespace, layer_name
from cnnc.ir.graph import Graph, Node
from cnnc.ir.shape_math import Shape, fmt


class Builder:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.names = Namespace()
        self.out = Writer()
        self.values: dict[str, str] = {}  # node id -> variable holding its output tensor
        self.runtime: set[str] = set()  # custom layer classes to paste into the file
        self.constants: list[tuple[str, str]] = []  # module-level (name, literal)
        # The network parameters both backends take as arguments (changing them changes no shape).
        self.sites = constructor_params(graph)
        self.params = {p: self.names(f"param:{p}", p) for p in graph.params if p in self.sites}
        self.shared = {n.shares for n in graph.topological() if n.shares}
        self.layer_vars: dict[str, str] = {}  # node id of a shared layer's owner -> variable holding the layer
        self._layer_names = {layer_name(n.id) for n in graph.topological()}

    # --- what emitters read ---
    def inputs(self, node: Node) -> list[str]:
        return [self.values[i] for i in self.graph.input_ids(node.id)]

    def input(self, node: Node) -> str:
        return self.inputs(node)[0]

    def in_shape(self, node: Node) -> Shape:
        return self.graph.node(self.graph.input_ids(node.id)[0]).shape

    def attr(self, node: Node, key: str) -> str:
        """An attribute as source: the builder's argument when it came straight from one, else a literal."""
        return self.bound(node, key) or literal(getattr(node.attrs, key))

    def bound(self, node: Node, key: str) -> str | None:
        """The builder argument an attribute comes from, if it is one."""
        param = node.bindings.get(key)
        if param in self.params and (node.id, key) in self.sites[param]:
            return self.params[param]
        return None

    def use(self, cls: str) -> str:
        """A custom layer class from runtime.py, pasted into the generated file."""
        self.runtime.add(cls)
        return cls

    def constant(self, key: str, literal: str) -> str:
        name = self.names(f"const:{key}", key.upper())
        if (name, literal) not in self.constants:
            self.constants.append((name, literal))
        return name

    # --- what emitters write ---
    def layer(self, node: Node, ctor: str, args: list[str], applied: str) -> str:
        """The node's own layer called on `applied`; one layer object for every use of shared weights."""
        owner = self.graph.weight_owner(node)
        extra = [f"name={literal(layer_name(owner.id))}"]
        if owner.frozen:
            extra.append("trainable=False")
        target = self.names(f"value:{node.id}", layer_name(node.id))
        comment = self._comment(node)
        if owner.id not in self.shared:
            self.out.assign_call(target, ctor, args + extra, applied, comment)
            return target
        if owner.id not in self.layer_vars:
            var = self.names(f"layer:{owner.id}", layer_name(owner.id) + "_layer")
            self.out.assign_call(var, ctor, args + extra, comment="shared: " + ", ".join(self._users(owner)))
            self.layer_vars[owner.id] = var
        self.out.assign_call(target, self.layer_vars[owner.id], [applied], comment=comment)
        return target

    def aux(self, node: Node, suffix: str, ctor: str, args: list[str], applied: str) -> str:
        """A weightless helper layer before or after the node's own (padding, subsampling)."""
        base = f"{layer_name(node.id)}_{suffix}"
        name, n = base, 1
        while name in self._layer_names:
            n += 1
            name = f"{base}_{n}"
        self._layer_names.add(name)
        target = self.names(f"aux:{name}", name)
        self.out.assign_call(target, ctor, [*args, f"name={literal(name)}"], applied)
        return target

    def _comment(self, node: Node) -> str:
        where = f"line {node.span.line}"
        if Path(node.span.file).name != Path(self.graph.file).name:
            where = f"{_safe_file(node.span.file)}:{node.span.line}"
        return f"{fmt(node.shape)}, {where}"

    def _users(self, owner: Node) -> list[str]:
        return [layer_name(n.id) for n in self.graph.topological() if n.id == owner.id or n.shares == owner.id]


def _safe_file(path: str) -> str:
    name = Path(path).name
    return name if name.replace(".", "").replace("_", "").replace("-", "").isalnum() else "import"
