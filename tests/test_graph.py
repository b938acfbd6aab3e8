"""`cnnc graph`: a valid SVG for every spec of the library, one node per layer (or per block at
--depth 1), one cluster per block call, inputs and outputs marked; .dot and .png too."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cnnc.cli import main
from cnnc.compiler import analyze
from cnnc.draw import render

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.cnn"))
SVG = "{http://www.w3.org/2000/svg}"


def drawn(path: Path) -> tuple[list[str], list[str]]:
    """(node titles, cluster titles) of a Graphviz SVG: the DOT ids of what it drew."""
    root = ET.parse(path).getroot()
    groups = root.iter(f"{SVG}g")
    titles: dict[str, list[str]] = {"node": [], "cluster": []}
    for group in groups:
        if group.get("class") in titles:
            titles[group.get("class")].append(group.find(f"{SVG}title").text)
    return titles["node"], titles["cluster"]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_spec_draws_one_node_per_layer_and_one_cluster_per_call(spec, tmp_path, capsys):
    graph = analyze(spec).graph
    start = time.perf_counter()
    assert main(["graph", str(spec), "-o", str(tmp_path / "net.svg")]) == 0
    assert time.perf_counter() - start < 10
    nodes, clusters = drawn(tmp_path / "net.svg")
    assert sorted(nodes) == sorted(
        [f"layer:{n.id}" for n in graph.topological()] + [f"output:{o}" for o in graph.outputs]
    )
    # an anonymous call (`as _`) is drawn as part of its caller, as its layers' ids say
    assert sorted(clusters) == sorted(f"cluster:{c.path}" for c in graph.structure.calls if not c.anonymous)


def test_the_counts_of_resnet18(tmp_path):
    assert main(["graph", str(ROOT / "specs" / "resnet18.cnn"), "-o", str(tmp_path / "r.svg")]) == 0
    nodes, clusters = drawn(tmp_path / "r.svg")
    assert (len(nodes), len(clusters)) == (69 + 1, 15)  # 69 layers and the output; 4 stages, 8 blocks, 3 downsamples


def test_depth_one_draws_the_networks_own_blocks_as_nodes(tmp_path):
    assert main(["graph", str(ROOT / "specs" / "resnet18.cnn"), "--depth", "1", "-o", str(tmp_path / "r.svg")]) == 0
    nodes, clusters = drawn(tmp_path / "r.svg")
    assert clusters == []
    assert nodes == [
        "layer:x", "layer:conv1", "layer:bn1", "layer:relu1", "layer:maxpool1",
        "block:layer1", "block:layer2", "block:layer3", "block:layer4", "layer:global_avgpool1", "layer:fc", "output:y",
    ]  # fmt: skip


def test_depth_two_keeps_the_outer_calls_as_clusters(tmp_path):
    assert main(["graph", str(ROOT / "specs" / "resnet18.cnn"), "--depth", "2", "-o", str(tmp_path / "r.svg")]) == 0
    nodes, clusters = drawn(tmp_path / "r.svg")
    assert clusters == ["cluster:layer1", "cluster:layer2", "cluster:layer3", "cluster:layer4"]
    assert len([n for n in nodes if n.startswith("block:")]) == 8  # two basic blocks per stage
    assert len(nodes) == 3 + 4 + 8 + 1  # x, pool, fc; the stem's four layers; the blocks; y


def test_a_shared_block_says_whose_weights_it_uses(tmp_path):
    assert main(["graph", str(ROOT / "specs" / "siamese.cnn"), "--depth", "1", "-o", str(tmp_path / "s.dot")]) == 0
    dot = (tmp_path / "s.dot").read_text()
    assert '"block:embed" [label="embed\\nface_embedding  128\\n40 layers, 4,977,216 params"' in dot
    assert '"block:embed_2" [label="embed_2 (weights of embed)\\nface_embedding  128\\n40 layers, 0 params"' in dot


def test_dot_needs_no_layout_program_and_png_is_a_png(tmp_path, monkeypatch):
    spec = str(ROOT / "specs" / "lenet5.cnn")
    assert main(["graph", spec, "-o", str(tmp_path / "n.png")]) == 0
    assert (tmp_path / "n.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setattr(render, "PROGRAM", "no-such-layout-program")
    assert main(["graph", spec, "-o", str(tmp_path / "n.dot")]) == 0
    assert (tmp_path / "n.dot").read_text().startswith('digraph "LeNet5" {')


def test_without_the_layout_program_svg_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(render, "PROGRAM", "no-such-layout-program")
    monkeypatch.setenv("PATH", "")
    assert main(["graph", str(ROOT / "specs" / "lenet5.cnn"), "-o", str(tmp_path / "n.svg")]) == 2
    assert "pip install 'cnnc[graph]'" in capsys.readouterr().err
    assert not (tmp_path / "n.svg").exists()


def test_bad_usage(tmp_path, capsys):
    spec = str(ROOT / "specs" / "lenet5.cnn")
    assert main(["graph", spec, "-o", str(tmp_path / "n.jpg")]) == 2
    assert main(["graph", spec, "--depth", "0", "-o", str(tmp_path / "n.svg")]) == 2
    assert main(["graph", spec]) == 2


def test_the_readme_picture_is_what_cnnc_graph_draws(tmp_path):
    readme = (ROOT / "README.md").read_text()
    assert (
        "![ResNet-18 drawn by `cnnc graph specs/resnet18.cnn --depth 2 -o docs/resnet18.svg`](docs/resnet18.svg)"
        in readme
    )
    assert main(["graph", str(ROOT / "specs" / "resnet18.cnn"), "--depth", "2", "-o", str(tmp_path / "r.svg")]) == 0
    assert drawn(ROOT / "docs" / "resnet18.svg") == drawn(tmp_path / "r.svg")
