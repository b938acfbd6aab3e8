"""One class for a block's calls with and without an optional part, as torchvision's `Bottleneck`.

ResNet's bottleneck projects its shortcut only where the shape changes:
`short = in` then `if stride != 1 or in.c != out { short = in -> (...) as downsample }`.  Each
call is expanded on its own, so the calls that run the `if` and those that skip it make
different layers, and their class texts differ.  A block whose calls differ in exactly one
such `if` (one without `else`, recorded as a `Branch` of the IR) gets one class: a flag
argument, `False` by default, builds the part's modules (`self.downsample = None` otherwise),
and forward runs it when they are there; a name the part assigns holds its value from before
the `if` first (`short = x`), as torchvision's `identity = x`.

Sharing is checked, not assumed: a call that runs the part writes the merged class and its
*projection* (the class without the guarded lines: the flag, the `if`s and what they hold);
a call that skips the part writes its own class with those names bound where the `if` ran.
Calls share the class when the projection of one equals the other's text, so every line that
runs in both is the line each call would have written itself, its in-place work included.
"""

from __future__ import annotations

import keyword
import re
from collections import defaultdict
from dataclasses import dataclass, field

from cnnc.backends.common import free_name
from cnnc.backends.torch.scopes import reads_arg
from cnnc.ir.calls import Branch
from cnnc.ir.graph import Graph
from cnnc.ir.names import MODULE_ATTRIBUTES

ASSIGNED = re.compile(r"^ *(self\.\w+) = ")
INDENT = "    "


@dataclass
class ArmProfile:
    """A call that ran the optional part, relative to the call: what is read of the arm after it, and
    what the arm reads (a value from outside the call is numbered by its first read in the call)."""

    names: dict[tuple[str, int], str]  # (node id in the call, input slot) reading the arm's value -> its name
    reads: list[str | int]  # the values from before the arm it reads: node ids in the call, or numbers


def arm_profiles(graph: Graph, life, chosen: dict[int, Branch]) -> dict[str, ArmProfile]:
    """{block: the profile of its first call that runs the optional part}."""
    calls = {id(c): c for c in graph.structure.calls}
    names: dict[tuple[int, str], list[str]] = defaultdict(list)
    for value in graph.structure.values:
        if value.call is not None and value.index is None:
            names[(id(value.call), value.node)].append(value.name)
    profiles: dict[str, ArmProfile] = {}
    for key, branch in chosen.items():
        call = calls[key]
        if not branch.taken or call.block in profiles:
            continue
        prefix, made, kept = call.path + ".", set(branch.nodes), {name for name, _ in branch.kept}
        profile, outside = ArmProfile({}, []), []
        for node in (n for n in graph.topological() if n.id.startswith(prefix) and n.id in life.value):
            for slot, source in enumerate(graph.input_ids(node.id)):
                value = life.value[source]
                if not value.startswith(prefix) and value not in outside:
                    outside.append(value)
                relative = value.removeprefix(prefix) if value.startswith(prefix) else outside.index(value)
                if node.id in made and value not in made and relative not in profile.reads:
                    profile.reads.append(relative)
                elif node.id not in made and value in made:
                    name = next((n for n in names[(key, value)] if n in kept), None)
                    if name is not None:
                        profile.names[(node.id.removeprefix(prefix), slot)] = name
        profiles[call.block] = profile
    return profiles


@dataclass
class OptionalPart:
    """The optional `if` in one scope: where its units are, and the lines it wrote."""

    branch: Branch
    first: int  # the first unit the arm made (taken), or the unit before which it was skipped
    end: int  # one past the arm's last unit; `first` when skipped
    flag: str = ""
    kept: list[str] = field(default_factory=list)  # the names bound before the `if`
    guarded_init: set[int] = field(default_factory=set)  # line indices the projection leaves out
    guarded_forward: set[int] = field(default_factory=set)
    failed: bool = False  # the part cannot be written as an optional one: the calls keep their own classes
    renamed: dict[tuple[str, int], str] = field(default_factory=dict)  # skipped: (node, slot) reading a name
    arm_reads: set[str] = field(default_factory=set)  # skipped: the values the arm would have read
    _init_at: int = 0
    _forward_at: int = 0

    @classmethod
    def locate(cls, writer, branch: Branch) -> OptionalPart | None:
        """The part in `writer`'s units: those made in the arm (contiguous, spec order), or the
        place where it was skipped; None where the units do not allow it."""
        units, order = writer.units, writer.model.order
        if not branch.taken:
            profile = writer.model.profiles.get(writer.scope.block)
            first = next((i for i, u in enumerate(units) if order[u.nodes[0].id] >= branch.position), len(units))
            part = cls(branch, first, first)
            return part if profile is not None and part._skipped(writer, profile) else None
        made = set(branch.nodes)
        inside = [i for i, u in enumerate(units) if any(n.id in made for n in u.nodes)]
        if not inside or inside != list(range(inside[0], inside[-1] + 1)):
            return None
        if any(not all(n.id in made for n in units[i].nodes) or units[i].own.isdigit() for i in inside):
            return None
        return cls(branch, inside[0], inside[-1] + 1)

    def _skipped(self, writer, profile: ArmProfile) -> bool:
        """Where the arm was skipped, what a call that ran it reads through its names after it
        (`<kept short>`: `x` under the name `short`) and what the arm itself reads."""
        prefix, life = writer.scope.path + ".", writer.life
        kept = {name: life.value.get(node, node) for name, node in self.branch.kept}
        outside: list[str] = []
        for node in (n for u in writer.units for n in u.nodes if n.id in life.value):
            for slot, source in enumerate(writer.graph.input_ids(node.id)):
                value = life.value[source]
                if not value.startswith(prefix) and value not in outside:
                    outside.append(value)
                name = profile.names.get((node.id.removeprefix(prefix), slot))
                if name is not None:
                    if kept.get(name) != value:
                        return False
                    self.renamed[(node.id, slot)] = f"<kept {name}>"
        for read in profile.reads:
            value = outside[read] if isinstance(read, int) and read < len(outside) else prefix + str(read)
            if value not in life.value:
                return False
            self.arm_reads.add(value)
        return True

    # --- writing ---
    def open(self, writer, index: int) -> None:
        """Before unit `index`: bind the names the arm assigns to their values from before it and,
        where the arm ran, start its guarded lines."""
        written = self.written(writer) if self.branch.taken else []
        names = {n for v in written for n in writer.names.get(v, ())}
        for name, node in self.branch.kept:
            value, kept = writer.life.value.get(node, node), f"<kept {name}>"
            if value not in writer.var or (name not in names if self.branch.taken else kept not in writer.last):
                continue
            variable = writer.locals(name, name)
            if not self.branch.taken and variable == writer.var[value] and writer.last.get(value, -1) >= index:
                self.failed = True  # one variable for the name and the value, each read on its own
                continue
            if variable != writer.var[value]:
                if writer._busy(variable, index - 1):
                    self.failed = True
                    continue
                writer.forward.line(f"{variable} = {writer.var[value]}")
            self.kept.append(variable)
            if self.branch.taken:  # the arm binds the name to its own value
                writer.holder[variable] = value
            else:  # the reads of the name, from here on
                writer.var[kept], writer.holder[variable] = variable, kept
                writer.spare = frozenset(kept for _, kept in self.branch.kept)
        if self.branch.taken:
            self._init_at, self._forward_at = len(writer.init.lines), len(writer.forward.lines)
            writer.init.level += 1
            writer.forward.level += 1

    def close(self, writer) -> None:
        """After the arm's last unit: the `if`s around its lines, the modules None without it."""
        writer.init.level -= 1
        writer.forward.level -= 1
        for value in self.written(writer):
            if writer.var.get(value) not in self.kept:
                self.failed = True  # a value the arm makes is read after it under no name it assigns
        init, forward = writer.init.lines, writer.forward.lines
        inner = INDENT * (writer.init.level + 1) + "self."
        assigned = (ASSIGNED.match(line) for line in init[self._init_at :] if line.startswith(inner))
        modules = list(dict.fromkeys(m.group(1) for m in assigned if m))
        self.flag = self._flag_name(writer, modules)
        pad = INDENT * writer.init.level
        if modules:
            head = [f"{pad}{m} = None" for m in modules] + [f"{pad}if {self.flag}:"]
            test = f"if {modules[0]} is not None:"
        else:  # nothing to build: the class keeps the flag to test it
            stored = f"self.{self.flag}"
            if self.flag in MODULE_ATTRIBUTES or any(line.strip().startswith(f"{stored} =") for line in init):
                self.failed = True
            head = [f"{pad}{stored} = {self.flag}"]
            test = f"if {stored}:"
        init[self._init_at : self._init_at] = head
        self.guarded_init = set(range(self._init_at, len(init)))
        forward.insert(self._forward_at, INDENT * writer.forward.level + test)
        self.guarded_forward = set(range(self._forward_at, len(forward)))
        if len(self.guarded_forward) < 2:
            self.failed = True  # the arm wrote no statement

    def written(self, writer) -> list[str]:
        """The values the arm's units make that are read after them."""
        units = writer.units[self.first : self.end]
        return [v for u in units for v in u.writes if writer.last.get(v, -1) >= self.end]

    def _flag_name(self, writer, modules: list[str]) -> str:
        """The constructor flag: the part's first module's name (`downsample`), else the condition's
        name where it is one (`if act { ... }`), where no argument, parameter or name takes it."""
        init = "\n".join(writer.init.lines)
        candidates = {"in_channels", *(writer.block_args or {})}
        taken = {"self", *writer.model.reserved, *writer.model.defaults, *(c for c in candidates if reads_arg(c, init))}
        condition = self.branch.condition
        named = condition is not None and condition.isidentifier() and not keyword.iskeyword(condition)
        base = modules[0].removeprefix("self.") if modules else condition if named else "optional"
        return free_name(base, taken)
