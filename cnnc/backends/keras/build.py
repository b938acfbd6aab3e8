"""The state of one generated Keras builder: names, lines, and what the file needs.

Emitters (`emit.py`) call `layer` for a node's own layer (named `layer_name(node.id)`,
so weights map by name across backends) and `aux` for a weightless helper layer
(padding, subsampling).  Sharing, freezing, comments and network-parameter
arguments are handled here once, not in each emitter.
"""

from __future__ import annotations

from cnnc.backends.common import constructor_params
from cnnc.backends.naming import layer_name
from cnnc.backends.pysource import CodeWriter, Expr, Namespace, call, file_label, inline, literal
from cnnc.ir.graph import Graph, Node
from cnnc.ir.shape_math import Shape, fmt


class Builder:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.names = Namespace()
        self.out = CodeWriter(level=1)  # the builder function's body
        self.values: dict[str, str] = {}  # node id -> variable holding its output tensor
        self.runtime: set[str] = set()  # custom layer classes to paste into the file
        self.constants: list[tuple[str, Expr]] = []  # module-level (name, literal)
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
        return self.bound(node, key) or inline(getattr(node.attrs, key))

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

    def constant(self, key: str, value: Expr) -> str:
        name = self.names(f"const:{key}", key.upper())
        if (name, value) not in self.constants:
            self.constants.append((name, value))
        return name

    # --- what emitters write ---
    def layer(self, node: Node, ctor: str, args: list[Expr], applied: Expr) -> str:
        """The node's own layer called on `applied`; one layer object for every use of shared weights."""
        owner = self.graph.weight_owner(node)
        extra = [f"name={literal(layer_name(owner.id))}"]
        if owner.frozen:
            extra.append("trainable=False")
        target = self.names(f"value:{node.id}", layer_name(node.id))
        comment = self._comment(node)
        if owner.id not in self.shared:
            self.out.statement(f"{target} = ", call(call(ctor, *args, *extra), applied), comment=comment)
            return target
        if owner.id not in self.layer_vars:
            var = self.names(f"layer:{owner.id}", layer_name(owner.id) + "_layer")
            users = "shared: " + ", ".join(self._users(owner))
            self.out.statement(f"{var} = ", call(ctor, *args, *extra), comment=users)
            self.layer_vars[owner.id] = var
        self.out.statement(f"{target} = ", call(self.layer_vars[owner.id], applied), comment=comment)
        return target

    def aux(self, node: Node, suffix: str, ctor: str, args: list[Expr], applied: Expr) -> str:
        """A weightless helper layer before or after the node's own (padding, subsampling)."""
        base = f"{layer_name(node.id)}_{suffix}"
        name, n = base, 1
        while name in self._layer_names:
            n += 1
            name = f"{base}_{n}"
        self._layer_names.add(name)
        target = self.names(f"aux:{name}", name)
        comment = f"{suffix} for {layer_name(node.id)}, {self._where(node)}"
        self.out.statement(f"{target} = ", call(call(ctor, *args, f"name={literal(name)}"), applied), comment=comment)
        return target

    def _comment(self, node: Node) -> str:
        return f"{fmt(node.shape)}, {self._where(node)}"

    def _where(self, node: Node) -> str:
        """`line N` in the compiled spec, `file.cnn:N` in an imported one (where its name is plain)."""
        if node.span.file != self.graph.file and file_label(node.span.file):
            return f"{file_label(node.span.file)}:{node.span.line}"
        return f"line {node.span.line}"

    def _users(self, owner: Node) -> list[str]:
        return [layer_name(n.id) for n in self.graph.topological() if n.id == owner.id or n.shares == owner.id]
