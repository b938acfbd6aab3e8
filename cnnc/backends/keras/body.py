"""One generated function body: its lines, its locals, and which layer names it writes relative to `name`.

A body is the network's builder function or one block's function (`def bottleneck(x, filters, name)`).
Locals are the spec's value names (`short`, `h`); an unnamed value takes the name of the value its
chain ends in, as keras.applications reuses `x` along a chain.  A local is reassigned only once the
value it holds is dead (no later statement of the body reads it), so a name never hides a value that
is still needed: the alternative gets `_2`, `_3`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnc.backends.pysource import CodeWriter, Expr, literal
from cnnc.ir.calls import Call

# A value read after the body's last statement (returned, or a model output).
FOREVER = 1 << 62


@dataclass
class Body:
    call: Call | None  # the block call the function is made from; None: the network's builder
    prefix: str | None  # the layer name of the call (the function's `name` argument); None: names are literals
    reserved: set[str]  # module-level names and parameters no local may take
    args: dict[str, object] = field(default_factory=dict)  # the block's arguments, by parameter name
    out: CodeWriter = field(default_factory=lambda: CodeWriter(level=1))
    values: dict[str, str] = field(default_factory=dict)  # node id -> local holding its output
    preferred: dict[str, str] = field(default_factory=dict)  # node id -> local name it would like
    last_use: dict[str, int] = field(default_factory=dict)  # node id -> position of the last statement reading it
    used_args: set[str] = field(default_factory=set)  # arguments the text reads (the function's parameters)
    position: int = 0  # the statement being written
    # an anonymous call's function: its arguments, True where some layer has an attribute of that name
    names_from: dict[str, bool] = field(default_factory=dict)
    name_args: set[str] = field(default_factory=set)  # the arguments its layer names read
    _holder: dict[str, str] = field(default_factory=dict)  # local -> node id it holds

    def bind(self, node_id: str, var: str) -> None:
        """A parameter: `var` holds `node_id` on entry."""
        self.values[node_id] = var
        self._holder[var] = node_id

    def assign(self, node_id: str) -> str:
        """The local that receives `node_id`'s output: its preferred name unless that holds a live value."""
        base = self.preferred.get(node_id, "x")
        if base in self.reserved:
            base += "_"
        var, n = base, 1
        while var in self.reserved or self._live(var, node_id):
            n += 1
            var = f"{base}_{n}"
        self.values[node_id] = var
        self._holder[var] = node_id
        return var

    def _live(self, var: str, node_id: str) -> bool:
        """`var` holds a value read later (a helper layer's output held under its node's id is not one)."""
        held = self._holder.get(var)
        return held is not None and held != node_id and self.last_use.get(held, -1) > self.position

    def name_expr(self, full: str) -> Expr:
        """A layer name as source: `name + "_1_conv"` inside a block's function, else the literal; in
        the function of an anonymous call, whose layers are named in the spec from its arguments, a
        number that is an argument is written as it (`f"conv2d_{n}"`)."""
        if self.prefix is not None and full == self.prefix:  # an anonymous call's: named as its caller
            return "name"
        if self.prefix is not None and full.startswith(self.prefix + "_"):
            return f"name + {self._derived(full[len(self.prefix) :])}"
        return self._derived(full)

    def _derived(self, text: str) -> Expr:
        if not self.names_from:
            return literal(text)
        parts = text.split("_")
        for k, part in enumerate(parts):
            key = self._argument_named(part) if part.isdigit() else None
            parts[k] = part if key is None else f"{{{key}}}"  # a layer name has no braces to escape
        derived = "_".join(parts)
        return literal(text) if derived == text else f'f"{derived}"'

    def _argument_named(self, digits: str) -> str | None:
        """The integer argument a name's number is: one that named a layer before, then one no layer
        takes as an attribute (`n`, `block_id`; not `stride`), then the last declared (a block's number
        comes last in keras.applications' signatures: `block_id=1`)."""
        keys = [k for k in self.names_from if type(self.args[k]) is int and str(self.args[k]) == digits]
        if not keys:
            return None
        order = list(self.names_from)
        key = min(keys, key=lambda k: (k not in self.name_args, self.names_from[k], -order.index(k)))
        self.name_args.add(key)
        self.used_args.add(key)
        return key

    def arg(self, key: str, value: object) -> str | None:
        """The block parameter `key` as source when the value is its argument or a small multiple of it
        (`4 * filters`, a bottleneck's expansion); the text then reads the parameter."""
        expr = self.arg_expr(key, value)
        if expr is not None:
            self.used_args.add(key)
        return expr

    def arg_expr(self, key: str, value: object) -> str | None:
        given = self.args.get(key)
        if key not in self.args:
            return None
        if _same(given, value):
            return key
        if _int(given) and _int(value) and given > 0 and value % given == 0 and 2 <= value // given <= 16:
            return f"{value // given} * {key}"
        return None


def _int(value: object) -> bool:
    return type(value) is int


def _same(a: object, b: object) -> bool:
    """Equal and of one type (True is not 1, 2.0 is not 2): the text must mean the same for every instance."""
    return type(a) is type(b) and a == b
