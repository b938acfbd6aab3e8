"""The IR keeps the spec's structure: block calls, loops and value names (cnnc/ir/calls.py)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from cnnc.compiler import analyze
from cnnc.report import summary_json

SPECS = Path(__file__).resolve().parent.parent / "specs"


def checked(path, **kwargs):
    analysis = analyze(path, **kwargs)
    assert analysis.ok, [(d.code, d.message) for d in analysis.diagnostics]
    return analysis


def test_resnet50_has_16_bottlenecks_under_4_stages():
    structure = checked(SPECS / "resnet50.cnn").graph.structure
    assert Counter(c.block for c in structure.calls) == {
        "bottleneck_stage": 4,
        "residual_bottleneck": 16,
        "": 4,  # the `downsample` groups of the first block of each stage
    }
    stages = [c for c in structure.calls if c.block == "bottleneck_stage"]
    assert [c.path for c in stages] == ["layer1", "layer2", "layer3", "layer4"]
    assert [c.args for c in stages] == [
        {"filters": 64, "blocks": 3, "stride": 1},
        {"filters": 128, "blocks": 4, "stride": 2},
        {"filters": 256, "blocks": 6, "stride": 2},
        {"filters": 512, "blocks": 3, "stride": 2},
    ]
    assert all(c.parent is None for c in stages)
    # The network's `for` runs four times; each stage knows its index in it.
    assert [(c.loop.kind, c.loop.count, c.loop.targets, c.index) for c in stages] == [
        ("for", 4, ("filters", "blocks", "stride"), i) for i in range(4)
    ]
    assert stages[0].loop is stages[3].loop and stages[0].span.line == 12
    for stage, blocks in zip(stages, (3, 4, 6, 3)):
        children = structure.children(stage)
        assert [c.block for c in children] == ["residual_bottleneck"] * blocks
        # The first bottleneck comes before the stage's `repeat blocks - 1`, the others in it.
        assert children[0].loop is None
        assert [(c.loop.kind, c.loop.count, c.index) for c in children[1:]] == [
            ("repeat", blocks - 1, i) for i in range(blocks - 1)
        ]
        assert children[1].loop.call is stage and children[1].span.file.endswith("lib/resnet.cnn")
    first = structure.children(stages[1])[0]
    assert first.path == "layer2.0"
    assert first.args == {"filters": 128, "stride": 2, "expansion": 4, "groups": 1, "width": 0}
    assert [c.path for c in first.lineage()] == ["layer2", "layer2.0"]


def test_nodes_point_at_their_innermost_call():
    graph = checked(SPECS / "resnet50.cnn").graph
    conv = graph.node("layer3.5.conv2")
    assert conv.call.path == "layer3.5" and conv.call.parent.path == "layer3"
    assert conv.call.index == 4 and conv.loops == ()
    assert graph.node("x").call is None and graph.node("fc").call is None
    per_call = Counter(node.call.path if node.call else None for node in graph.topological())
    # (conv, batchnorm, relu) x 2, conv, batchnorm, add, relu; the first of a stage adds downsample, batchnorm.
    # the first block's projection is a group of its own (`downsample`: a call without a block)
    assert per_call["layer1.0"] == 10 and per_call["layer1.0.downsample"] == 2 and per_call["layer1.1"] == 10
    # the input, the stem (conv1, bn1, relu, maxpool) and head (global_avgpool, fc); a stage makes no node itself
    assert per_call[None] == 7 and "layer1" not in per_call


def test_value_names_of_unet():
    structure = checked(SPECS / "unet.cnn").graph.structure
    network = [(v.name, v.node, v.index) for v in structure.values if v.call is None]
    skips = [(node, index) for name, node, index in network if name == "skips"]
    assert skips == [("down1.relu2", 0), ("down2.relu2", 1), ("down3.relu2", 2), ("dropout1", 3)]
    assert [node for name, node, _ in network if name == "h"][:4] == ["x", "down1.relu2", "maxpool1", "down2.relu2"]
    assert [name for name, _, _ in network].count("h") == 15  # x, 4 x (down, maxpool), dropout, bottom, 4 x up
    cropped = [(v.call.path, v.node) for v in structure.values if v.name == "cropped"]
    assert cropped == [("up1", "up1.crop1"), ("up2", "up2.crop1"), ("up3", "up3.crop1"), ("up4", "up4.crop1")]
    assert structure.value_name("down2.relu2") == "h" and structure.value_name("up1.crop1") == "cropped"
    # Tensor arguments are kept as the node that makes them: skips[-1 - i].
    ups = [c for c in structure.calls if c.block == "up"]
    assert [(c.args["skip"].node, c.args["filters"], c.index) for c in ups] == [
        ("dropout1", 512, 0),
        ("down3.relu2", 256, 1),
        ("down2.relu2", 128, 2),
        ("down1.relu2", 64, 3),
    ]


def test_residual_value_names_stay_in_their_call():
    structure = checked(SPECS / "resnet50.cnn").graph.structure
    names = Counter(v.name for v in structure.values if v.call is not None and v.call.block == "residual_bottleneck")
    # `short = in`, rebound to the projection in the 4 bottlenecks that downsample.
    assert names == {"main": 16, "short": 20}  # `mid` and `out` are numbers, not values of the graph
    shorts = [v.node for v in structure.values if v.name == "short" and v.call.path == "layer2.0"]
    assert shorts == ["layer1.2.relu3", "layer2.0.downsample.1"]


def test_step_repetition_nested_loops_and_shared_blocks(spec_file):
    text = """block unit(c: int) { return in -> conv(c, 3, padding=same) -> relu }
network N() {
  input x: 8x8x3
  input z: 8x8x3
  h = x -> conv(4, 1) * 3
  for i in range(2) {
    repeat 2 { h = h -> unit(4 + i) }
  }
  shared f = unit(5)
  a = h -> f
  b = z -> conv(5, 1) -> f
  add(a, b) -> output y
}
"""
    graph = checked(spec_file(text)).graph
    structure = graph.structure
    step, outer = structure.loops[0], structure.loops[1]
    assert (step.kind, step.count, step.span.line) == ("step", 3, 5)
    assert [[(i.loop, i.index) for i in graph.node(f"conv{n}").loops] for n in (1, 2, 3)] == [
        [(step, 0)],
        [(step, 1)],
        [(step, 2)],
    ]
    inner = [loop for loop in structure.loops if loop.kind == "repeat"]
    assert [[(i.loop, i.index) for i in loop.within] for loop in inner] == [[(outer, 0)], [(outer, 1)]]
    units = [c for c in structure.calls if c.block == "unit"]
    assert [(c.path, c.args["c"]) for c in units] == [
        ("unit1", 4),
        ("unit2", 4),
        ("unit3", 5),
        ("unit4", 5),
        ("f", 5),
        ("f_2", 5),
    ]
    assert [[(i.loop.kind, i.index) for i in c.loops] for c in units[:4]] == [
        [("for", 0), ("repeat", 0)],
        [("for", 0), ("repeat", 1)],
        [("for", 1), ("repeat", 0)],
        [("for", 1), ("repeat", 1)],
    ]
    assert units[5].shares is units[4] and units[4].shares is None
    assert graph.node("f_2.conv1").shares == "f.conv1"


def test_summary_json_gains_blocks_calls_loops_and_values():
    data = json.loads(json.dumps(summary_json(checked(SPECS / "resnet50.cnn"))))
    layer = next(row for row in data["layers"] if row["name"] == "layer3.5.conv1")
    assert layer == {**layer, "op": "conv", "block": "layer3.5", "output_shape": [14, 14, 256]}
    assert data["layers"][0]["block"] is None and "loops" not in data["layers"][0]
    calls = {call["path"]: call for call in data["calls"]}
    assert len(data["calls"]) == 24  # 4 stages, 16 blocks, 4 downsample groups
    assert calls["layer3.5"] == {
        "path": "layer3.5",
        "block": "residual_bottleneck",
        "parent": "layer3",
        "line": 27,
        "args": {"filters": 256, "stride": 1, "expansion": 4, "groups": 1, "width": 0},
        "loops": [{"loop": 3, "index": 4}],
    }
    assert calls["layer3"]["loops"] == [{"loop": 0, "index": 2}]
    assert data["loops"][0] == {
        "kind": "for",
        "line": 11,
        "count": 4,
        "block": None,
        "loops": [],
        "targets": ["filters", "blocks", "stride"],
    }
    assert data["loops"][3] == {"kind": "repeat", "line": 27, "count": 5, "block": "layer3", "loops": []}
    assert {
        "name": "short",
        "node": "layer4.0.downsample.1",
        "block": "layer4.0",
        "line": 39,
    } in data["values"]
    # The existing keys are as they were.
    assert data["params"] == 25_610_152 and len(data["layers"]) == 175  # 1 + 4 + 16 x 10 + 4 x 2 + 2


def test_tensor_arguments_in_json():
    data = summary_json(checked(SPECS / "unet.cnn"))
    up = next(call for call in data["calls"] if call["path"] == "up2")
    assert up["args"] == {"skip": {"tensor": "down3.relu2"}, "filters": 256}
    assert {"name": "skips", "node": "dropout1", "block": None, "line": 32, "index": 3} in data["values"]


def test_each_if_that_ran_is_a_branch_with_its_truth_and_the_values_it_kept():
    graph = checked(SPECS / "resnet50.cnn").graph
    branches = graph.structure.branches
    # residual_bottleneck's `if stride != 1 or in.c != out { short = in -> (...) as downsample }`, once a call
    assert len(branches) == 16 and {(b.span.file.endswith("stdlib/blocks.cnn"), b.span.line) for b in branches} == {
        (True, 38)
    }
    assert all(b.optional and b.within == () and b.condition is None for b in branches)
    assert [b.call.path for b in branches if b.taken] == ["layer1.0", "layer2.0", "layer3.0", "layer4.0"]
    first, second = branches[0], branches[1]
    assert (first.call.path, first.kept, first.nodes) == (
        "layer1.0",
        (("short", "maxpool1"),),
        ["layer1.0.downsample.0", "layer1.0.downsample.1"],
    )
    # skipped: it made nothing, and `short` keeps the block's input
    assert (second.call.path, second.taken, second.kept, second.nodes) == (
        "layer1.1",
        False,
        (("short", "layer1.0.relu3"),),
        [],
    )
    # its place among the nodes: after the first block and layer1.1's main path (conv, bn, relu x 2, conv, bn)
    order = [n.id for n in graph.topological()]
    assert order[second.position - 1 : second.position + 1] == ["layer1.1.bn3", "layer1.1.add1"]
