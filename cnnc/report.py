"""The per-layer summary: a text table like the course's LeNet-5 table, and JSON.

The JSON form is a stable interface (DESIGN.md): extend it, never break it.
"""

from __future__ import annotations

from cnnc.compiler import Analysis
from cnnc.ir.shape_math import fmt


def summary_json(analysis: Analysis) -> dict:
    graph, cost = analysis.graph, analysis.cost
    assert graph is not None
    layers = []
    for node in graph.topological():
        layers.append({
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
        })
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
        "warnings": [d.to_json() for d in analysis.diagnostics if not d.is_error],
    }


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
        rows.append((node.id, node.op.name, fmt(node.shape), f"{node.activation_size:,}", params,
                     f"{node.macs:,}", str(node.line)))
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
