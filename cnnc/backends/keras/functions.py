"""Block calls -> Python functions, in the style of keras.applications (`def bottleneck(x, filters, name)`).

Each block call of the spec becomes a call of a function that takes its input tensors, the block
arguments its text reads, and `name`, the call's layer name, to which its layers' names are relative
(`name + "_1_conv"`).  A function's text is written from one instance; instances whose text is the
same share the function, so a function is exact for every call of it by construction.  Arguments
that change the structure (a projection shortcut or not) give the block a second function
(`bottleneck_2`), documented with the arguments it was written for.  Calls of a block that differ
only by an `if` without `else` (ResNet's projection shortcut) share one function where they can, with
a flag as keras.applications' `conv_shortcut`: `short = x` then `if downsample: short = ...`, the calls
that ran it passing `downsample=True`.  The calls that share it are those common.py's
`optional_branches` picks (as the PyTorch backend's) whose texts agree: a call that skipped the part
writes the function's text without the guarded lines.

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

import keyword
import re
from collections import Counter
from dataclasses import dataclass

from cnnc.backends.common import free_name, optional_branches
from cnnc.backends.keras.body import FOREVER, Body
from cnnc.backends.naming import layer_name
from cnnc.backends.pysource import CodeWriter, Seq, call, comment_text, flat, literal, tuple_of
from cnnc.ir.calls import Branch, Call, TensorRef
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


@dataclass
class Part:
    """The optional `if` of one call's body while its text is written: `short = x` where the `if` ran
    or was skipped, then, where it ran, its layers under `if downsample:`."""

    branch: Branch
    flag: str | None  # the function's keyword where the call ran the arm; None: it skipped it
    start: int = -1  # the `if` line; -1: not written yet
    end: int = -1  # one past the arm's last line
    failed: bool = False

    def guarded(self) -> range:
        return range(self.start, self.end) if self.flag is not None and self.start >= 0 else range(0)


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
        self.order = {node.id: k for k, node in enumerate(self.graph.topological())}
        self.optional: dict[int, Branch] = {}  # id(call) -> the optional `if` its block's calls differ by
        self.parts: dict[int, Part] = {}  # id(call) -> its optional part, while its text is written
        self.merged: dict[str, tuple] = {}  # a projection -> the text of a call that ran the arm
        for node in self.graph.topological():
            for c in node.call.lineage() if node.call else []:
                self.subtree.setdefault(id(c), []).append(node)
        # an anonymous call's function is worth writing where two calls or more share its text
        anonymous = [c for c in calls if c.anonymous and id(c) not in self.inline]
        texts = {id(c): self._text(c, *self._interface(c))[0] for c in anonymous}
        shared = Counter(texts.values())
        self.inline |= {id(c) for c in anonymous if shared[texts[id(c)]] < 2}
        self.blocks = {sanitize(c.block) for c in calls if c.block and (not c.anonymous or id(c) not in self.inline)}
        self._optional()

    def _optional(self) -> None:
        """The calls of a block that differ in one `if` without `else` share a function with a flag
        (`downsample=False`) where the text of a call that skips it is the text of one that runs it
        without the guarded lines: every line that runs in both is the line each would write itself."""
        calls = self.graph.structure.calls
        candidates = optional_branches(self.graph.structure, Counter(c.block for c in calls))
        ran: dict[str, tuple] = {}
        skipped: set[str] = set()
        for c in calls:
            branch = candidates.get(id(c))
            # a call whose text writes calls would define their functions while it is tried: left alone
            if branch is None or c.anonymous or id(c) in self.inline or not c.path or self._makes_calls(c):
                continue
            self.optional[id(c)] = branch
            text = self._part_text(c, *self._interface(c), branch, self._flag(c, branch) if branch.taken else None)
            if text is None:
                continue
            if branch.taken:
                ran.setdefault(text[1], (*text[:1], *text[2:]))
            else:
                skipped.add(text[1])
        self.merged = {match: ran[match] for match in ran if match in skipped}

    def _makes_calls(self, c: Call) -> bool:
        return any(n.call is not c and id(n.call) not in self.inline for n in self.subtree[id(c)])

    def _flag(self, c: Call, branch: Branch) -> str:
        """The keyword: the part's first layer's name in the call (`downsample`), else the condition's
        name (`if act { ... }`), where no parameter or module-level name takes it."""
        first = branch.nodes[0].removeprefix(c.path + ".").split(".")[0] if branch.nodes else ""
        condition = branch.condition or ""
        base = next((n for n in (first, condition) if n.isidentifier() and not keyword.iskeyword(n)), "optional")
        return free_name(base, self.reserved() | set(c.args) | {"x"})

    def _part_text(self, c: Call, reads: list[str], made: list[str], branch: Branch, flag: str | None) -> tuple | None:
        """(key, what calls sharing the function agree on, body, inputs, params, fixed, flag): the text
        with the part where `c` runs it, and that text without the guarded lines; None where the part
        cannot be written so."""
        part = self.parts[id(c)] = Part(branch, flag)
        try:
            key, body, inputs, params, fixed = self._text(c, reads, made)
        finally:
            del self.parts[id(c)]
        if part.failed:
            return None
        if flag is None:
            return key, key[1], body, inputs, params, fixed, flag
        guarded = part.guarded()
        lines = [_code(line) for k, line in enumerate(body.out.lines) if k not in guarded]
        return key, "\n".join([*inputs, *params, *fixed, "\n".join(lines)]), body, inputs, params, fixed, flag

    def _part_at(self, body: Body, part: Part, statements: list[Item], position: int) -> None:
        """Before statement `position` (`len(statements)`: after the last): where the `if` ran, its
        kept names and `if flag:`, or the end of its lines; where it was skipped, its kept names."""
        if part.failed or (part.start >= 0 and (part.flag is None or part.end >= 0)):
            return
        arm, lines = set(part.branch.nodes), body.out.lines
        item = statements[position] if position < len(statements) else None
        inside = [k for k, s in enumerate(statements) if any(n.id in arm for n in s.nodes)]
        if part.flag is not None and part.start >= 0:  # the arm ran: its end?
            if item is not None and position in inside:
                return
            body.out.level -= 1
            part.end = len(lines)
            kept = {name for name, _ in part.branch.kept}
            for node in arm:
                if body.last_use.get(node, -1) > inside[-1] and node in body.values and body.values[node] not in kept:
                    part.failed = True  # a value of the arm read after it under no name it assigns
            part.failed |= part.end - part.start < 2  # the arm wrote no statement
            return
        if part.flag is not None:
            if item is None or position not in inside:
                return
            if inside != list(range(inside[0], inside[-1] + 1)) or any(
                not all(n.id in arm for n in statements[k].nodes) for k in inside
            ):
                part.failed = True
                return
            names = {body.preferred.get(node) for node in arm}
        elif item is not None and self.order[item.nodes[0].id] < part.branch.position:
            return
        for name, node in part.branch.kept:
            var = body.values.get(node)
            if var is None or (part.flag is not None and name not in names):
                continue
            if part.flag is None and body.last_use.get(node, -1) < position:
                continue
            held = body._holder.get(name)  # a value the statement at `position` still reads counts
            if name in body.reserved or (held not in (None, node) and body.last_use.get(held, -1) >= position):
                part.failed = True
                return
            if name != var:
                body.out.line(f"{name} = {var}")
            if part.flag is None:  # the reads of the value from here on go through the name
                body.values[node], body._holder[name] = name, node
        part.start = len(lines)
        if part.flag is not None:
            body.out.line(f"if {part.flag}:")
            body.out.level += 1
        else:
            part.end = part.start

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
        part = self.parts.get(id(body.call)) if body.call is not None else None
        try:
            position = 0
            while position < len(statements):
                body.position = position
                if part is not None:
                    self._part_at(body, part, statements, position)
                run = loop_run(statements, position, body.call) if part is None else statements[position : position + 1]
                if len(run) > 1 and self.write_loop(body, run, position):
                    position += len(run)
                    continue
                item = statements[position]
                if item.node is not None:
                    self.b.emit(item.node)
                else:
                    self.write_call(body, self.call_statement(body, item))
                position += 1
            if part is not None:
                self._part_at(body, part, statements, position)
                part.failed |= part.start < 0 or (part.flag is not None and part.end < 0)
        finally:
            self.b.body = previous

    def call_statement(self, body: Body, item: Item) -> CallStatement:
        """What `h = bottleneck(h, filters=filters, name=name + "_block1")` needs, targets not yet assigned."""
        c, reads = item.call, item.reads(self.graph)
        made = item.made(self.graph, {k for k, v in body.last_use.items() if v == FOREVER})
        function, params = self.function(c, reads, made)
        args = [body.values[r] for r in reads]
        keywords = {p: body.arg(p, c.args[p]) or flat(literal(c.args[p])) if p in c.args else "True" for p in params}
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
        branch = self.optional.get(id(c))
        if branch is not None:
            flag = self._flag(c, branch) if branch.taken else None
            text = self._part_text(c, reads, made, branch, flag)
            if text is not None and text[1] in self.merged and (not branch.taken or self.merged[text[1]][0] == text[0]):
                key, body, inputs, params, fixed, flag = self.merged[text[1]]
                self._define(key, c, body, inputs, [*params, "name", f"{flag}=False"], fixed)
                return self.defined[key], params + ([flag] if branch.taken else [])
        key, body, inputs, params, fixed = self._text(c, reads, made)
        if key not in self.defined:
            self._define(key, c, body, inputs, params + (["name"] if body.prefix is not None else []), fixed)
        return self.defined[key], params

    def _define(self, key, c: Call, body: Body, inputs: list[str], params: list[str], fixed: list[str]) -> None:
        if key not in self.defined:
            variant = sum(1 for block, _ in self.defined if block == c.block) + 1
            hint = sanitize(c.block) + (f"_{variant}" if variant > 1 else "")
            name = self.b.names(f"function:{len(self.defined)}", hint)
            self.defined[key] = name
            self.kinds.add("anonymous" if c.anonymous else "named")
            self.sources.append(self._source(name, c, inputs + params, fixed, body.out))

    def _text(self, c: Call, reads: list[str], made: list[str]) -> tuple[tuple[str, str], Body, list, list, list]:
        """The function's text for call `c` as a key (its block, and its text with the name left out),
        its body, and its parameters: inputs, the block's that the text reads, and the others' values."""
        refs = {v.node: k for k, v in c.args.items() if isinstance(v, TensorRef)}
        inputs = [refs.get(r) or ("x" if i == 0 else f"x{i + 1}") for i, r in enumerate(reads)]
        scalars = {k: v for k, v in c.args.items() if not isinstance(v, TensorRef)}
        reserved = self.reserved() | set(scalars)
        part = self.parts.get(id(c))
        if part is not None and part.flag is not None:  # no local may take the flag's name
            reserved.add(part.flag)
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
