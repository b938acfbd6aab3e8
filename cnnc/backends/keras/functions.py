"""Block calls -> Python functions, in the style of keras.applications (`def bottleneck(x, filters, name)`).

Each block call of the spec becomes a call of a function that takes its input tensors, the block
arguments its text reads, and `name`, the call's layer name, to which its layers' names are relative
(`name + "_1_conv"`).  A function's text is written from one instance; instances whose text is the
same share the function, so a function is exact for every call of it by construction.  Arguments
that change the structure (a projection shortcut or not) give the block a second function
(`bottleneck_2`), documented with the arguments it was written for.

Calls stay inline (their layers written in the caller's body, named in full) where a function would
change meaning: group steps `(a -> b) as name`, calls holding layers that share weights (one layer
object used twice), and calls whose layers read a network parameter of the builder (`num_classes`).

An anonymous call (`-> conv2d_bn(64, 1, n) as _`) adds nothing to its layers' names: the spec names
them from the call's arguments (`as conv2d_{n}`), as keras.applications' helpers leave them to Keras'
automatic names.  Its function writes a number in a name that is an argument as that argument
(`f"conv2d_{n}"`) and takes the caller's `name` where the caller has one.  Such a function is written
where it serves two calls or more (keras.applications' `conv2d_bn`); an anonymous call whose text is
its own, or that makes calls itself (a module of Inception), stays inline, as keras.applications
writes its modules.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from cnnc.backends.keras.body import FOREVER, Body
from cnnc.backends.naming import layer_name
from cnnc.backends.pysource import CodeWriter, Seq, call, comment_text, flat, literal, tuple_of
from cnnc.ir.calls import Call, TensorRef
from cnnc.ir.graph import Graph, Node
from cnnc.ir.names import sanitize
from cnnc.ir.shape_math import fmt


@dataclass
class CallStatement:
    call: Call
    function: str
    args: list[str]  # the input tensors' locals
    keywords: dict[str, str]  # block parameter -> source
    name: str | None  # the call's full layer name; None: an anonymous call in a body without one
    made: list[str]  # the node ids it returns


LOOP_LOCAL = "<loop>"  # stands for a local not chosen yet


def loop_run(statements: list[Item], start: int, body: Call | None) -> list[Item]:
    """The calls from `start` on that are one iteration each of one loop of `body` (1 item: no loop)."""
    first = statements[start].call
    if first is None or not first.loops or first.loop.call is not body:
        return statements[start : start + 1]
    run = [statements[start]]
    for item in statements[start + 1 :]:
        c = item.call
        if c is None or c.loop is not first.loop or c.index != first.index + len(run):
            break
        run.append(item)
    return run


def _code(line: str) -> str:
    """A line without its comment: instances of one function differ only in the shapes the comments show."""
    return "" if line.lstrip().startswith("#") else re.sub(r"  # .*$", "", line)


def _numbered(name: str) -> tuple[str, int] | None:
    """`conv2_block3` -> (`conv2_block`, 3)."""
    stem = name.rstrip("0123456789")
    return (stem, int(name[len(stem) :])) if stem != name and stem and not stem[-1].isdigit() else None


@dataclass
class Item:
    """One statement of a body: a node's layer, or a call of a block's function (its nodes)."""

    node: Node | None
    call: Call | None
    nodes: list[Node]

    def reads(self, graph: Graph) -> list[str]:
        """Node ids from outside the item that it reads, in order of first use."""
        own = {n.id for n in self.nodes}
        seen: list[str] = []
        for n in self.nodes:
            for i in graph.input_ids(n.id):
                if i not in own and i not in seen:
                    seen.append(i)
        return seen

    def made(self, graph: Graph, outside: set[str]) -> list[str]:
        """The item's nodes read after it (by a later item or as an output)."""
        own = {n.id for n in self.nodes}
        return [n.id for n in self.nodes if n.id in outside or any(c not in own for c in graph.consumers(n.id))]


def inline_calls(graph: Graph, shared: set[str], sites: dict) -> set[int]:
    """ids of the calls written inline, and every call around them."""
    bound = {node_id for uses in sites.values() for node_id, _ in uses}
    inline: set[int] = set()
    for node in graph.topological():
        if node.shares or node.id in shared or node.id in bound:
            for c in node.call.lineage() if node.call else []:
                inline.add(id(c))
    for c in graph.structure.calls:
        if c.group or c.shares is not None:
            inline.add(id(c))
        if c.parent is not None and c.parent.anonymous:  # an anonymous call that makes calls
            inline.add(id(c.parent))
    return inline


def written_in(call: Call | None, inline: set[int]) -> Call | None:
    """The call whose body's text writes what `call`'s body names: an inline anonymous call's caller."""
    while call is not None and call.anonymous and id(call) in inline:
        call = call.parent
    return call


def items(graph: Graph, nodes: list[Node], body: Call | None, inline: set[int]) -> list[Item]:
    """The statements of `body`: its own nodes and those of inline calls one by one, other calls whole."""
    result: list[Item] = []
    for node in nodes:
        lineage = node.call.lineage() if node.call else []
        depth = lineage.index(body) + 1 if body is not None else 0
        owner = next((c for c in lineage[depth:] if id(c) not in inline), None)
        if owner is None:
            result.append(Item(node, None, [node]))
        elif result and result[-1].call is owner:
            result[-1].nodes.append(node)
        else:
            result.append(Item(None, owner, [node]))
    return result


def plan(graph: Graph, body: Body, statements: list[Item], outputs: list[str], inline: set[int]) -> None:
    """Each value's last reader and preferred local: its spec name, or that of the chain it feeds."""
    for position, item in enumerate(statements):
        for source in item.reads(graph):
            body.last_use[source] = position
    for node_id in outputs:
        body.last_use[node_id] = FOREVER
    mine = [v for v in graph.structure.values if written_in(v.call, inline) is body.call]
    named = {v.node: v.name for v in mine if v.index is None}
    # an element of a named list (U-Net's skips[2]) outlives the chain: `skips_2` says why it is kept
    named.update({v.node: f"{v.name}_{v.index}" for v in reversed(mine) if v.index is not None and v.index >= 0})
    owner = {n.id: k for k, item in enumerate(statements) for n in item.nodes}
    for item in reversed(statements):
        for node in reversed(item.nodes):
            readers = graph.consumers(node.id)
            if node.op.name == "input":  # an input keeps its own name (`h = x` names it again)
                body.preferred[node.id] = next(k for k, v in graph.inputs.items() if v == node.id)
            elif node.id in named:
                body.preferred[node.id] = named[node.id]
            elif len(readers) == 1 and readers[0] in body.preferred and owner.get(readers[0], -1) >= owner[node.id]:
                body.preferred[node.id] = body.preferred[readers[0]]


class Functions:
    """The module's block functions: written once per distinct text, named after their block."""

    def __init__(self, builder) -> None:
        self.b = builder
        self.graph: Graph = builder.graph
        self.inline = inline_calls(self.graph, builder.shared, builder.sites)
        calls = self.graph.structure.calls
        self.blocks = {sanitize(c.block) for c in calls if c.block}
        self.defined: dict[tuple[str, str], str] = {}  # (block, text with the name left out) -> function name
        self.sources: list[str] = []  # the functions' text, callees first
        self.kinds: set[str] = set()  # "named" functions (taking `name`), "anonymous" ones (for calls `as _`)
        self.subtree: dict[int, list[Node]] = {}
        for node in self.graph.topological():
            for c in node.call.lineage() if node.call else []:
                self.subtree.setdefault(id(c), []).append(node)
        # an anonymous call's function is worth writing where two calls or more share its text
        anonymous = [c for c in calls if c.anonymous and id(c) not in self.inline]
        texts = {id(c): self._text(c, *self._interface(c))[0] for c in anonymous}
        shared = Counter(texts.values())
        self.inline |= {id(c) for c in anonymous if shared[texts[id(c)]] < 2}
        self.blocks = {sanitize(c.block) for c in calls if c.block and (not c.anonymous or id(c) not in self.inline)}

    def _interface(self, c: Call) -> tuple[list[str], list[str]]:
        """What a call reads and the values it makes that are read after it, seen from outside."""
        item = Item(None, c, self.subtree[id(c)])
        return item.reads(self.graph), item.made(self.graph, set(self.graph.outputs.values()))

    def reserved(self) -> set[str]:
        # l, O and I read like 1 and 0 (ruff's E741): a spec's `l` becomes `l_`
        return set(self.b.names._taken) | self.blocks | {"name", "l", "O", "I"}

    def write_body(self, body: Body, nodes: list[Node], outputs: list[str], keep: list[str] = ()) -> None:
        statements = items(self.graph, nodes, body.call, self.inline)
        plan(self.graph, body, statements, outputs, self.inline)
        for node_id in keep:
            body.last_use[node_id] = FOREVER + 1
        previous, self.b.body = self.b.body, body
        try:
            position = 0
            while position < len(statements):
                body.position = position
                run = loop_run(statements, position, body.call)
                if len(run) > 1 and self.write_loop(body, run, position):
                    position += len(run)
                    continue
                item = statements[position]
                if item.node is not None:
                    self.b.emit(item.node)
                else:
                    self.write_call(body, self.call_statement(body, item))
                position += 1
        finally:
            self.b.body = previous

    def call_statement(self, body: Body, item: Item) -> CallStatement:
        """What `h = bottleneck(h, filters=filters, name=name + "_block1")` needs, targets not yet assigned."""
        c, reads = item.call, item.reads(self.graph)
        made = item.made(self.graph, {k for k, v in body.last_use.items() if v == FOREVER})
        function, params = self.function(c, reads, made)
        args = [body.values[r] for r in reads]
        keywords = {p: body.arg(p, c.args[p]) or flat(literal(c.args[p])) for p in params}
        return CallStatement(c, function, args, keywords, layer_name(c.path) if c.path else None, made)

    def write_call(self, body: Body, s: CallStatement) -> None:
        named = {"name": body.name_expr(s.name)} if s.name is not None else {}
        expr = call(s.function, *s.args, **s.keywords, **named)
        targets = [body.assign(m) for m in s.made]
        body.out.statement(f"{', '.join(targets)} = ", expr, comment=self._comment(s))

    def write_loop(self, body: Body, run: list[Item], start: int) -> bool:
        """A run of one-call iterations as a Python loop: `for i in range(2, blocks + 1): h = f(h, ...)`."""
        if run[0].call.anonymous:  # its calls are not numbered by their names: each is written out
            return False
        statements = []
        for k, item in enumerate(run):
            body.position = start + k
            statements.append(self.call_statement(body, item))
            for m in statements[-1].made:  # read by the next iteration; its local is chosen below
                body.values[m] = LOOP_LOCAL
        first = statements[0]
        numbers = [_numbered(s.name) for s in statements]
        same = all((s.function, s.keywords) == (first.function, first.keywords) for s in statements)
        chained = all(len(s.made) == 1 and len(s.args) == 1 for s in statements) and all(
            run[k + 1].reads(self.graph) == statements[k].made for k in range(len(run) - 1)
        )
        if not (same and chained and all(numbers) and len({n[0] for n in numbers}) == 1):
            return False
        stem, low = numbers[0][0], numbers[0][1]
        if [n[1] for n in numbers] != list(range(low, low + len(run))) or body.name_expr(stem) == literal(stem):
            return False
        body.position = start + len(run) - 1
        var = body.values[run[0].reads(self.graph)[0]]
        target = body.assign(first.made[0])
        if target != var:  # the loop must carry one local from iteration to iteration
            return False
        for s in statements:
            body.values[s.made[0]] = target
        stop = self._stop(body, low + len(run), len(run))
        body.out.statement("", Seq("for i in range", "(", (("", str(low)), ("", stop)), ")"), ":")
        prefix = flat(body.name_expr(stem))
        named = f"{prefix} + str(i)"
        expr = call(first.function, var, **first.keywords, name=named)
        with body.out.indented():
            body.out.statement(f"{target} = ", expr, comment=self._comment(statements[-1]))
        return True

    def _stop(self, body: Body, stop: int, count: int) -> str:
        """The loop's end, read from the block argument that counts it where one does (`blocks + 1`)."""
        for key, value in body.args.items():
            if type(value) is int and value > 0 and 0 <= stop - value <= 2 and abs(value - count) <= 2:
                body.used_args.add(key)
                return key if stop == value else f"{key} + {stop - value}"
        return str(stop)

    def _comment(self, s: CallStatement) -> str:
        return f"{fmt(self.graph.node(s.made[-1]).shape)}, {self.b.where(s.call.span)}"

    def function(self, c: Call, reads: list[str], made: list[str]) -> tuple[str, list[str]]:
        """The function for call `c` (written now if its text is new) and the block parameters it takes."""
        key, body, inputs, params, fixed = self._text(c, reads, made)
        if key not in self.defined:
            variant = sum(1 for block, _ in self.defined if block == c.block) + 1
            hint = sanitize(c.block) + (f"_{variant}" if variant > 1 else "")
            name = self.b.names(f"function:{len(self.defined)}", hint)
            self.defined[key] = name
            self.kinds.add("anonymous" if c.anonymous else "named")
            named = ["name"] if body.prefix is not None else []
            self.sources.append(self._source(name, c, inputs + params + named, fixed, body.out))
        return self.defined[key], params

    def _text(self, c: Call, reads: list[str], made: list[str]) -> tuple[tuple[str, str], Body, list, list, list]:
        """The function's text for call `c` as a key (its block, and its text with the name left out),
        its body, and its parameters: inputs, the block's that the text reads, and the others' values."""
        refs = {v.node: k for k, v in c.args.items() if isinstance(v, TensorRef)}
        inputs = [refs.get(r) or ("x" if i == 0 else f"x{i + 1}") for i, r in enumerate(reads)]
        scalars = {k: v for k, v in c.args.items() if not isinstance(v, TensorRef)}
        reserved = self.reserved() | set(scalars)
        body = Body(c, layer_name(c.path) if c.path else None, reserved, args=scalars)
        if c.anonymous:  # the spec names its layers from its arguments: which are also attributes
            attributes = {f for n in self.subtree[id(c)] for f in type(n.attrs).model_fields}
            body.names_from = {k: k in attributes for k in scalars}
        for node_id, var in zip(reads, inputs):
            body.bind(node_id, var)
        self.write_body(body, self.subtree[id(c)], made)
        returned = [body.values[m] for m in made]
        body.out.statement("return ", returned[0] if len(returned) == 1 else tuple_of(*returned, bare=True))
        params = [k for k in scalars if k in body.used_args]
        fixed = [f"{k}={flat(literal(v))}" for k, v in scalars.items() if k not in body.used_args]
        text = "\n".join(_code(line) for line in body.out.lines)
        return (c.block, "\n".join([*inputs, *params, *fixed, text])), body, inputs, params, fixed

    def _source(self, name: str, c: Call, params: list[str], fixed: list[str], out: CodeWriter) -> str:
        w = CodeWriter()
        w.statement("", Seq(f"def {name}", "(", tuple(("", p) for p in params), ")"), ":")
        what = f"The `{c.block}` block" + (f" ({', '.join(fixed)})" if fixed else "")
        what += ", called `as _`" if c.anonymous else ""
        w.line(f'    """{comment_text(what, limit=100)}."""')  # 120 columns at most
        w.lines += out.lines
        return "\n".join(w.lines)
