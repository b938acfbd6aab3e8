"""The per-layer summary: a text table like the course's LeNet-5 table, and JSON.

The JSON form is a stable interface (DESIGN.md): extend it, never break it.
"""

from __future__ import annotations

from cnnc.compiler import Analysis
from cnnc.ir.calls import Call, Iteration, Loop, Structure, TensorRef, ValueName, named
from cnnc.ir.shape_math import fmt


def summary_json(analysis: Analysis) -> dict:
    graph, cost = analysis.graph, analysis.cost
    assert graph is not None
    loop_ids = {id(loop): number for number, loop in enumerate(graph.structure.loops)}
    layers = []
    for node in graph.topological():
        layers.append(
            {
                "name": node.id,
                "op": node.op.name,
                "line": node.line,
                "inputs": graph.input_ids(node.id),
                "output_shape": list(node.shape),
                "params": node.params.total,
                "trainable_params": node.params.trainable,
                "non_trainable_params": node.params.non_trainable,
                "macs": node.macs,
                "activation_size": node.activation_size,
                "receptive_field": list(node.receptive_field or ()),
                **({"shares": node.shares} if node.shares else {}),
                **({"frozen": True} if node.frozen else {}),
                "block": _path(node.call),
                **({"loops": _iterations(node.loops, loop_ids)} if node.loops else {}),
            }
        )
    return {
        "network": graph.name,
        "params": cost.params.total,
        "trainable_params": cost.params.trainable,
        "non_trainable_params": cost.params.non_trainable,
        "macs": cost.macs,
        "flops": cost.flops,
        "inputs": {name: list(graph.node(n).shape) for name, n in graph.inputs.items()},
        "outputs": {name: list(graph.node(n).shape) for name, n in graph.outputs.items()},
        "parameters": {p.name: _jsonable(p.value) for p in graph.params.values()},
        "layers": layers,
        "warnings": [d.to_json() for d in analysis.diagnostics if d.level == "warning"],
        "notes": [d.to_json() for d in analysis.diagnostics if d.level == "note"],
        **structure_json(graph.structure, loop_ids),
    }


def structure_json(structure: Structure, loop_ids: dict[int, int]) -> dict:
    """The spec's structure: block calls (parent by path), loops (by number), value names.

    A layer's `"block"` is the path of the innermost call that made it (null: the network's
    body); a call's or layer's `"loops"` are the loops around it in its body, outermost first.
    An anonymous call (`as _`) is part of its caller's body here, as its layers' ids say.
    """
    return {
        "calls": [
            {
                "path": call.path,
                "block": call.block,
                "args": {name: _argument(value) for name, value in call.args.items()},
                "parent": _path(call.parent),
                "line": call.span.line,
                "loops": _iterations(call.loops, loop_ids),
                **({"shares": call.shares.path} if call.shares else {}),
            }
            for call in structure.calls
            if not call.anonymous  # its layers, loops and values are the caller's
        ],
        "loops": [_loop_json(loop, loop_ids) for loop in structure.loops],
        "values": [
            {
                "name": value.name,
                "node": value.node,
                "block": _path(value.call),
                "line": value.span.line,
                **({"index": value.index} if value.index is not None else {}),
            }
            for value in _values(structure)
        ],
    }


def _values(structure: Structure) -> list[ValueName]:
    """The value names, once per body that is not anonymous: a name given inside a call `as _`
    (`h = in`) and the same name in its caller are one."""
    seen: set[tuple] = set()
    values = []
    for value in structure.values:
        key = (value.name, value.node, named(value.call), value.index)
        if key not in seen:
            seen.add(key)
            values.append(value)
    return values


def _loop_json(loop: Loop, loop_ids: dict[int, int]) -> dict:
    return {
        "kind": loop.kind,
        "line": loop.span.line,
        "count": loop.count,
        "block": _path(loop.call),
        "loops": _iterations(loop.within, loop_ids),
        **({"targets": list(loop.targets)} if loop.targets else {}),
    }


def _path(call: Call | None) -> str | None:
    """The path of the call's body (that of its caller for a call `as _`); None: the network's."""
    call = named(call)
    return None if call is None else call.path


def _iterations(iterations: tuple[Iteration, ...], loop_ids: dict[int, int]) -> list[dict]:
    return [{"loop": loop_ids[id(i.loop)], "index": i.index} for i in iterations]


def _argument(value: object) -> object:
    """A block argument as JSON: a tensor as the node that makes it, sequences as lists."""
    if isinstance(value, TensorRef):
        return {"tensor": value.node}
    if isinstance(value, (list, tuple)):
        return [_argument(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)  # a range passed to an `any` parameter


def _jsonable(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def summary_table(analysis: Analysis) -> str:
    graph, cost = analysis.graph, analysis.cost
    assert graph is not None
    header = ("layer", "op", "output shape", "activations", "params", "MACs", "line")
    rows = [header]
    for node in graph.topological():
        shared = node.shares and graph.node(node.shares).params.total
        params = f"{node.params.total:,}" + (" (shared)" if shared else "")
        rows.append(
            (
                node.id,
                node.op.name,
                fmt(node.shape),
                f"{node.activation_size:,}",
                params,
                f"{node.macs:,}",
                str(node.line),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    right = {3, 4, 5, 6}

    def line(row: tuple) -> str:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    rule = "-" * len(line(header))
    out = [f"network {graph.name}", rule, line(header), rule] + [line(r) for r in rows[1:]] + [rule]
    p = cost.params
    out += [
        f"params:      {p.total:,} ({p.trainable:,} trainable, {p.non_trainable:,} non-trainable)",
        f"MACs:        {cost.macs:,} (FLOPs = 2 x MACs = {cost.flops:,})",
        "inputs:      " + ", ".join(f"{n} {fmt(graph.node(i).shape)}" for n, i in graph.inputs.items()),
        "outputs:     " + ", ".join(f"{n} {fmt(graph.node(i).shape)}" for n, i in graph.outputs.items()),
    ]
    return "\n".join(out)
