"""The spec library (specs/): every count of issue 3's table, exact.

Each row gives a spec (with `--set` overrides), its total parameters (Keras'
count_params: batch-norm moving statistics included), its trainable parameters
(torch's `sum(p.numel() for p in model.parameters())`) and its MACs (the
torchvision convention, cnnc/ir/ops.py).  Where the numbers come from:

- issue: the table of issue 3 (the reference implementations' own counts);
- keras: measured on keras.applications.X(weights=None); the slow test at the
  end of this file re-measures them;
- torchvision: torchvision's published num_params (EfficientNet B1-B6, SqueezeNet);
- cnnc: cnnc's own count, checked by hand for the architecture (a regression
  guard: these specs have no reference count).

Default tests use analysis only (no framework import).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cnnc.cli import main
from cnnc.compiler import analyze

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


@dataclass(frozen=True)
class Row:
    spec: str
    sets: dict = field(default_factory=dict)
    total: int = 0
    trainable: int = 0
    macs: int = 0
    source: str = ""  # which of the numbers come from where (see the module docstring)

    @property
    def id(self) -> str:
        return self.spec + "".join(f"-{k}={v}" for k, v in self.sets.items())


TABLE = [
    Row("lenet5", {}, total=61_706, trainable=61_706, macs=416_520, source="issue: all"),
    Row("alexnet", {}, total=61_100_840, trainable=61_100_840, macs=714_188_480, source="issue: trainable, macs"),
    Row("alexnet_original", {}, total=62_378_344, trainable=62_378_344, macs=1_135_256_096, source="cnnc"),
    Row("vgg16", {}, total=138_357_544, trainable=138_357_544, macs=15_470_264_320, source="issue; keras: total"),
    Row("vgg19", {}, total=143_667_240, trainable=143_667_240, macs=19_632_062_464, source="issue; keras: total"),
    Row("keras_vgg16", {}, total=138_357_544, trainable=138_357_544, macs=15_470_264_320, source="keras: total"),
    Row("keras_vgg19", {}, total=143_667_240, trainable=143_667_240, macs=19_632_062_464, source="keras: total"),
    Row("resnet18", {}, total=11_699_112, trainable=11_689_512, macs=1_814_073_344, source="issue: trainable, macs"),
    Row("resnet34", {}, total=21_814_696, trainable=21_797_672, macs=3_663_761_408, source="issue: trainable, macs"),
    Row("resnet50", {}, total=25_610_152, trainable=25_557_032, macs=4_089_184_256, source="issue: trainable, macs"),
    Row("resnet101", {}, total=44_654_504, trainable=44_549_160, macs=7_801_405_440,
        source="issue: trainable, macs"),
    Row("resnet152", {}, total=60_344_232, trainable=60_192_808, macs=11_513_626_624,
        source="issue: trainable, macs"),
    Row("resnext50_32x4d", {}, total=25_097_128, trainable=25_028_904, macs=4_230_479_872,
        source="torchvision: trainable"),
    Row("keras_resnet50", {}, total=25_636_712, trainable=25_583_592, macs=3_857_973_248,
        source="issue: total, macs; keras: trainable"),
    Row("keras_resnet101", {}, total=44_707_176, trainable=44_601_832, macs=7_570_194_432,
        source="issue: total, macs; keras: trainable"),
    Row("keras_resnet152", {}, total=60_419_944, trainable=60_268_520, macs=11_282_415_616,
        source="issue: total, macs; keras: trainable"),
    Row("keras_resnet50v2", {}, total=25_613_800, trainable=25_568_360, macs=3_482_255_360,
        source="issue: total, macs; keras: trainable"),
    Row("keras_resnet101v2", {}, total=44_675_560, trainable=44_577_896, macs=7_194_476_544,
        source="keras: total, trainable"),
    Row("keras_resnet152v2", {}, total=60_380_648, trainable=60_236_904, macs=10_906_697_728,
        source="keras: total, trainable"),
    Row("googlenet", {}, total=13_019_960, trainable=13_004_888, macs=1_506_748_416, source="issue: trainable"),
    Row("googlenet", {"aux_logits": False}, total=6_639_464, trainable=6_624_904, macs=1_498_376_192,
        source="issue: trainable, macs"),
    Row("inception_v3", {}, total=23_851_784, trainable=23_817_352, macs=5_713_216_096,
        source="issue: total, macs; keras: trainable"),
    Row("torchvision_inception_v3", {}, total=27_197_488, trainable=27_161_264, macs=5_718_899_296,
        source="torchvision: trainable, total (parameters and buffers)"),
    Row("torchvision_inception_v3", {"aux_logits": False}, total=23_869_000, trainable=23_834_568,
        macs=5_713_216_096, source="torchvision: trainable, total (parameters and buffers)"),
    Row("inception_resnet_v2", {}, total=55_873_736, trainable=55_813_192, macs=13_155_794_016,
        source="keras: total, trainable"),
    Row("xception", {}, total=22_910_480, trainable=22_855_952, macs=8_357_403_496,
        source="issue: total, macs; keras: trainable"),
    Row("nasnet_mobile", {}, total=5_326_716, trainable=5_289_978, macs=563_638_816, source="keras: total, trainable"),
    Row("nasnet_large", {}, total=88_949_818, trainable=88_753_150, macs=23_783_414_658,
        source="keras: total, trainable"),
    Row("squeezenet", {}, total=1_248_424, trainable=1_248_424, macs=818_924_576, source="torchvision: trainable"),
    Row("squeezenet", {"version": 1.1}, total=1_235_496, trainable=1_235_496, macs=349_151_936,
        source="torchvision: trainable"),
    Row("mobilenet", {}, total=4_253_864, trainable=4_231_976, macs=568_740_352,
        source="issue: total, macs; keras: trainable"),
    Row("mobilenet", {"alpha": 0.5}, total=1_342_536, trainable=1_331_592, macs=149_497_088,
        source="keras: total, trainable"),
    Row("mobilenet_v2", {}, total=3_538_984, trainable=3_504_872, macs=300_774_272,
        source="issue: total, macs; keras: trainable"),
    Row("mobilenet_v2", {"alpha": 0.35}, total=1_691_208, trainable=1_677_128, macs=59_285_808,
        source="keras: total, trainable"),
    Row("mobilenet_v2", {"alpha": 1.4}, total=6_156_712, trainable=6_108_776, macs=582_195_824,
        source="keras: total, trainable"),
    Row("torchvision_mobilenet_v2", {}, total=3_538_984, trainable=3_504_872, macs=300_774_272,
        source="torchvision: trainable, total (parameters and buffers)"),
    Row("mobilenet_v3", {}, total=5_507_432, trainable=5_483_032, macs=216_589_760,
        source="torchvision: trainable"),
    Row("mobilenet_v3", {"variant": "small"}, total=2_554_968, trainable=2_542_856, macs=56_510_400,
        source="torchvision: trainable"),
    Row("mobilenet_v3", {"variant": "large", "width": 0.75}, total=3_395_992, trainable=3_377_576, macs=140_033_816,
        source="torchvision: trainable (measured, width_mult=0.75)"),
    Row("densenet121", {}, total=8_062_504, trainable=7_978_856, macs=2_834_161_664,
        source="issue: total, macs; keras, torchvision: trainable"),
    Row("densenet169", {}, total=14_307_880, trainable=14_149_480, macs=3_359_843_328,
        source="issue: total, macs; keras, torchvision: trainable"),
    Row("densenet201", {}, total=20_242_984, trainable=20_013_928, macs=4_291_365_888,
        source="issue: total, macs; keras, torchvision: trainable"),
    Row("keras_densenet121", {}, total=8_062_504, trainable=7_978_856, macs=2_834_161_664, source="keras: total"),
    Row("keras_densenet169", {}, total=14_307_880, trainable=14_149_480, macs=3_359_843_328, source="keras: total"),
    Row("keras_densenet201", {}, total=20_242_984, trainable=20_013_928, macs=4_291_365_888, source="keras: total"),
    Row("efficientnet", {"variant": 0}, total=5_330_564, trainable=5_288_548, macs=385_814_752,
        source="issue: trainable, macs"),
    Row("efficientnet", {"variant": 1}, total=7_856_232, trainable=7_794_184, macs=686_802_832,
        source="torchvision: trainable"),
    Row("efficientnet", {"variant": 2}, total=9_177_562, trainable=9_109_994, macs=993_561_872,
        source="torchvision: trainable"),
    Row("efficientnet", {"variant": 3}, total=12_320_528, trainable=12_233_232, macs=1_827_141_392,
        source="torchvision: trainable"),
    Row("efficientnet", {"variant": 4}, total=19_466_816, trainable=19_341_616, macs=4_393_771_024,
        source="torchvision: trainable"),
    Row("efficientnet", {"variant": 5}, total=30_562_520, trainable=30_389_784, macs=10_266_384_752,
        source="torchvision: trainable"),
    Row("efficientnet", {"variant": 6}, total=43_265_136, trainable=43_040_704, macs=19_067_593_536,
        source="torchvision: trainable"),
    Row("efficientnet", {"variant": 7}, total=66_658_680, trainable=66_347_960, macs=37_745_884_192,
        source="issue: trainable"),
    Row("unet", {}, total=31_030_658, trainable=31_030_658, macs=150_428_424_448, source="cnnc"),
    Row("yolo", {}, total=50_983_561, trainable=50_962_889, macs=31_469_126_656,
        source="course's yolo.h5 (YAD2K): total, trainable"),
    Row("siamese", {}, total=4_977_216, trainable=4_971_456, macs=326_598_656, source="cnnc"),
    Row("ecg1d", {}, total=55_013, trainable=55_013, macs=3_627_392, source="cnnc"),
    Row("mri3d", {}, total=1_352_897, trainable=1_351_873, macs=16_225_401_856,
        source="keras.io 3D CT example: total, trainable"),
    Row("edges", {}, total=54, trainable=0, macs=3_483_864, source="issue: trainable"),
]

# The files of issue 3's table: each must exist and appear in TABLE.
ISSUE_FILES = [
    "lenet5", "alexnet", "alexnet_original", "vgg16", "vgg19", "resnet18", "resnet34", "resnet50", "resnet101",
    "resnet152", "keras_resnet50", "keras_resnet101", "keras_resnet152", "keras_resnet50v2", "googlenet",
    "inception_v3", "xception", "mobilenet", "mobilenet_v2", "densenet121", "densenet169", "densenet201",
    "efficientnet", "unet", "yolo", "siamese", "ecg1d", "mri3d", "edges",
]

SPEC_FILES = sorted(SPECS.glob("*.cnn"))
LIB_FILES = sorted((SPECS / "lib").glob("*.cnn"))


def _analyze(spec: str, sets: dict | None = None):
    analysis = analyze(SPECS / f"{spec}.cnn", overrides=sets or {})
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    return analysis


def _set_args(sets: dict) -> list[str]:
    args = []
    for name, value in sets.items():
        args += ["--set", f"{name}={str(value).lower() if isinstance(value, bool) else value}"]
    return args


def _summary_json(capsys, spec: str, sets: dict) -> dict:
    assert main(["summary", str(SPECS / f"{spec}.cnn"), "--json", *_set_args(sets)]) == 0
    return json.loads(capsys.readouterr().out)


# --- the table ----------------------------------------------------------------


def test_every_file_of_the_issue_is_in_the_table():
    assert [f.stem for f in SPEC_FILES if f.stem in ISSUE_FILES] == sorted(ISSUE_FILES)
    assert {row.spec for row in TABLE} == {f.stem for f in SPEC_FILES}


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.id)
def test_counts_by_analysis(row: Row):
    analysis = _analyze(row.spec, row.sets)
    params = analysis.cost.params
    assert (params.total, params.trainable, analysis.cost.macs) == (row.total, row.trainable, row.macs)


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.id)
def test_counts_by_summary_json(capsys, row: Row):
    report = _summary_json(capsys, row.spec, row.sets)
    assert report["params"] == row.total
    assert report["trainable_params"] == row.trainable
    assert report["non_trainable_params"] == row.total - row.trainable
    assert report["macs"] == row.macs
    assert report["flops"] == 2 * row.macs
    assert report["warnings"] == []


def test_summary_json_in_a_fresh_process():
    """`python -m cnnc summary --json`, as a user runs it, on the B7 row."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "cnnc", "summary", "specs/efficientnet.cnn", "--json",
                             "--set", "variant=7"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["network"], report["trainable_params"]) == ("EfficientNet", 66_347_960)
    assert report["inputs"] == {"x": [600, 600, 3]} and report["outputs"] == {"y": [1000]}


# --- check: every spec clean, no warning --------------------------------------


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_spec_checks_without_warnings(capsys, path: Path):
    assert main(["check", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("ok: ")
    # Notes (N codes) are allowed: a spec faithful to its reference may drop a row the reference drops.
    diagnostics = analyze(path).diagnostics
    assert [d for d in diagnostics if d.level != "note"] == []
    assert captured.err == "" if not diagnostics else captured.err.startswith("note[")


@pytest.mark.parametrize("row", [r for r in TABLE if r.sets], ids=lambda r: r.id)
def test_variants_check_without_warnings(row: Row):
    assert [d for d in _analyze(row.spec, row.sets).diagnostics if d.level != "note"] == []


@pytest.mark.parametrize("path", LIB_FILES, ids=lambda p: p.stem)
def test_every_lib_file_is_imported_by_a_spec(path: Path):
    importers = [f.stem for f in SPEC_FILES if f'import "lib/{path.name}"' in f.read_text()]
    assert importers, f"{path.name} is imported by no spec, so nothing checks it"


@pytest.mark.parametrize("path", SPEC_FILES + LIB_FILES, ids=lambda p: p.stem)
def test_spec_starts_with_a_header_naming_its_reference(path: Path):
    header = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    text = " ".join(header)
    assert len(header) >= 3, f"{path.name} needs a header comment naming its paper and reference"
    assert re.search(r"\b(19|20)\d\d\b", text), f"{path.name}: the header names no paper (no year)"


# --- shapes the issue lists ---------------------------------------------------


def _shapes(analysis, ops: tuple[str, ...]) -> list[tuple[int, ...]]:
    return [node.shape for node in analysis.graph.topological() if node.op.name in ops]


def _io(analysis) -> tuple[dict, dict]:
    g = analysis.graph
    return ({n: g.node(i).shape for n, i in g.inputs.items()}, {n: g.node(i).shape for n, i in g.outputs.items()})


def test_alexnet_original_maps():
    analysis = _analyze("alexnet_original")
    assert _shapes(analysis, ("conv", "maxpool")) == [
        (55, 55, 96), (27, 27, 96), (27, 27, 256), (13, 13, 256), (13, 13, 384), (13, 13, 384), (13, 13, 256),
        (6, 6, 256),
    ]
    assert [n.op.name for n in analysis.graph.topological()].count("lrn") == 2
    assert all(n.attrs.groups == 1 for n in analysis.graph.topological() if n.op.name == "conv")
    assert _io(analysis) == ({"x": (227, 227, 3)}, {"y": (1000,)})


def test_unet_shapes():
    analysis = _analyze("unet")
    assert _io(analysis) == ({"x": (572, 572, 1)}, {"y": (388, 388, 2)})
    # the contracting path as figure 1 draws it, then the crops of the skip maps
    assert _shapes(analysis, ("maxpool",)) == [(284, 284, 64), (140, 140, 128), (68, 68, 256), (32, 32, 512)]
    assert _shapes(analysis, ("crop",)) == [(56, 56, 512), (104, 104, 256), (200, 200, 128), (392, 392, 64)]
    assert all(n.attrs.padding == "valid" for n in analysis.graph.topological() if n.op.name == "conv")
    assert len(_shapes(analysis, ("conv_transpose",))) == 4


def test_yolo_shapes():
    analysis = _analyze("yolo")
    assert _io(analysis) == ({"x": (608, 608, 3)}, {"y": (19, 19, 425)})
    concat = [n for n in analysis.graph.topological() if n.op.name == "concat"]
    assert [n.shape for n in concat] == [(19, 19, 256), (19, 19, 1280)]  # space_to_depth, then the passthrough


def test_siamese_shares_its_weights(spec_file):
    analysis = _analyze("siamese")
    assert _io(analysis) == ({"anchor": (96, 96, 3), "other": (96, 96, 3)},
                             {"anchor_embedding": (128,), "other_embedding": (128,)})
    nodes = list(analysis.graph.topological())
    first = [n for n in nodes if n.id.startswith("embed.")]
    second = [n for n in nodes if n.id.startswith("embed_2.")]
    assert len(first) == len(second) > 0
    assert all(n.shares == f.id and n.params.total == 0 for n, f in zip(second, first))
    assert sum(n.params.total for n in first) == analysis.cost.params.total
    # one application alone has the same parameters: they are counted once
    single = spec_file(f'import "{SPECS / "siamese.cnn"}"\n'
                       "network One() {\n  input a: 96x96x3\n  a -> face_embedding(128) -> output e\n}\n")
    alone = analyze(single)
    assert alone.ok and alone.cost.params == analysis.cost.params
    assert 2 * alone.cost.macs == analysis.cost.macs


def test_edges_are_fixed():
    analysis = _analyze("edges")
    assert _io(analysis) == ({"x": (256, 256, 1)}, {"edges": (254, 254, 6)})
    convs = [n for n in analysis.graph.topological() if n.op.name == "conv"]
    assert [n.attrs.weights for n in convs] == ["vertical", "horizontal", "sobel_x", "sobel_y", "scharr_x",
                                               "scharr_y"]
    assert all(n.frozen and n.params.trainable == 0 for n in convs)
    assert (analysis.cost.params.trainable, analysis.cost.params.non_trainable) == (0, 54)


def test_signal_and_volume_shapes():
    ecg, mri = _analyze("ecg1d"), _analyze("mri3d")
    assert _io(ecg) == ({"x": (187, 1)}, {"y": (5,)})
    assert _shapes(ecg, ("maxpool",)) == [(92, 32), (44, 32), (20, 32), (8, 32), (2, 32)]
    assert _io(mri) == ({"x": (128, 128, 64, 1)}, {"y": (1,)})
    assert _shapes(mri, ("maxpool",)) == [(63, 63, 31, 64), (30, 30, 14, 64), (14, 14, 6, 128), (6, 6, 2, 256)]


def test_googlenet_heads_are_extra_outputs():
    with_heads, without = _analyze("googlenet"), _analyze("googlenet", {"aux_logits": False})
    assert _io(with_heads)[1] == {"y": (1000,), "aux1": (1000,), "aux2": (1000,)}
    assert _io(without)[1] == {"y": (1000,)}
    # the "5x5" branch of torchvision's Inception is a 3x3
    assert {n.attrs.kernel for n in without.graph.topological() if n.op.name == "conv"} == {1, 3, 7}


def test_efficientnet_scales_resolution_and_rounding():
    inputs = [_io(_analyze("efficientnet", {"variant": v}))[0]["x"][0] for v in range(8)]
    assert inputs == [224, 240, 260, 300, 380, 456, 528, 600]
    b7 = _analyze("efficientnet", {"variant": 7})
    head = [n for n in b7.graph.topological() if n.op.name == "conv"][-1]
    assert head.attrs.filters == 2560  # 4 x round_filters(320, 2.0)
    bad = analyze(SPECS / "efficientnet.cnn", overrides={"variant": 8})
    assert not bad.ok and [d.code for d in bad.diagnostics] == ["E0504"]  # the spec's own check of `variant`


def test_mobilenet_v3_blocks_as_torchvision_configures_them():
    """features: the stem, 15 blocks (large, 8 with SE) or 11 (small, 9 with SE), the head; the SE squeeze is
    make_divisible(expanded // 4, 8), its gate a hard sigmoid (torchvision.models.mobilenetv3)."""
    for sets, blocks, se in (({}, 15, 8), ({"variant": "small"}, 11, 9)):
        graph = _analyze("mobilenet_v3", sets).graph
        nodes = list(graph.topological())
        assert len({n.id.split(".")[1] for n in nodes if n.id.startswith("features.")}) == blocks + 2
        assert sum(n.op.name == "hard_sigmoid" for n in nodes) == se
        assert sum(n.op.name == "sigmoid" for n in nodes) == 0
    small = _analyze("mobilenet_v3", {"variant": "small"}).graph
    assert small.node("features.1.block.1.fc1").attrs.filters == 8  # make_divisible(16 // 4, 8)
    assert small.node("features.4.block.2.fc1").attrs.filters == 24  # make_divisible(96 // 4, 8)
    assert small.node("features.5.block.2.fc1").attrs.filters == 64  # make_divisible(240 // 4, 8)
    bad = analyze(SPECS / "mobilenet_v3.cnn", overrides={"variant": "medium"})
    assert not bad.ok and [d.code for d in bad.diagnostics] == ["E0504"]


def test_squeeze_excite_checks_its_gate(spec_file):
    path = spec_file('network SE() {\n  input x: 8x8x16\n  x -> squeeze_excite(4, gate="hardsigmoid") -> output y\n}\n')
    bad = analyze(path)
    assert [d.code for d in bad.diagnostics] == ["E0504"] and "hard_sigmoid" in bad.diagnostics[0].message


def test_resnext_groups_its_3x3_convs():
    graph = _analyze("resnext50_32x4d").graph
    first, last = graph.node("layer1.0.conv2"), graph.node("layer4.2.conv2")
    assert (first.attrs.groups, first.shape[-1], last.attrs.groups, last.shape[-1]) == (32, 128, 32, 1024)
    assert _analyze("resnext50_32x4d", {"width_per_group": 8}).cost.params.trainable > 25_028_904


def test_width_multipliers_are_parameters():
    assert _analyze("mobilenet", {"alpha": 0.25}).graph.node("conv_pw_13").attrs.filters == 256
    assert _analyze("densenet121", {"growth": 12}).cost.params.trainable < 2_000_000


def test_num_classes_stays_a_constructor_argument():
    """Where the spec passes num_classes straight to the last layer, backends can expose it."""
    for spec in ("alexnet", "vgg16", "resnet50", "googlenet", "efficientnet", "inception_v3", "densenet121",
                 "torchvision_inception_v3", "torchvision_mobilenet_v2"):
        assert _analyze(spec).graph.params["num_classes"].structural is False, spec


# --- the generated table in docs/ ---------------------------------------------


@pytest.fixture(scope="module")
def rendered_table() -> str:
    spec = importlib.util.spec_from_file_location("spec_table", ROOT / "tools" / "spec_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render(SPECS)


def test_docs_table_is_current(rendered_table: str):
    committed = (ROOT / "docs" / "spec-library.md").read_text()
    assert committed == rendered_table, "run: python tools/spec_table.py > docs/spec-library.md"


def test_readme_table_is_current(rendered_table: str):
    spec = importlib.util.spec_from_file_location("spec_table", ROOT / "tools" / "spec_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text()
    assert module.README_START in readme
    assert readme == module.with_readme_table(readme, rendered_table), "run: python tools/spec_table.py --readme"


def test_docs_table_rows(rendered_table: str):
    rows = [line for line in rendered_table.splitlines() if line.startswith("| ") and ".cnn" in line]
    assert rows[0] == "| lenet5.cnn | LeNet5 | x 32x32x1 | y 10 | 61,706 | 61,706 | 416,520 |"
    assert "| resnet50.cnn | ResNet50 | x 224x224x3 | y 1000 | 25,610,152 | 25,557,032 | 4,089,184,256 |" in rows
    assert ("| efficientnet.cnn `--set variant=7` | EfficientNet | x 600x600x3 | y 1000 | 66,658,680 | 66,347,960 "
            "| 37,745,884,192 |") in rows
    # googlenet and torchvision_inception_v3 without heads, EfficientNet B1-B7, SqueezeNet 1.1, MobileNetV3 small
    assert len(rows) == len(SPEC_FILES) + 2 + 7 + 1 + 1


# --- cross-check with keras.applications (slow: imports TensorFlow) -----------

KERAS = [
    ("keras_resnet50", {}, "ResNet50", {}), ("keras_resnet101", {}, "ResNet101", {}),
    ("keras_resnet152", {}, "ResNet152", {}), ("keras_resnet50v2", {}, "ResNet50V2", {}),
    ("keras_resnet101v2", {}, "ResNet101V2", {}), ("keras_resnet152v2", {}, "ResNet152V2", {}),
    ("inception_v3", {}, "InceptionV3", {}),
    ("inception_resnet_v2", {}, "InceptionResNetV2", {}), ("xception", {}, "Xception", {}),
    ("nasnet_mobile", {}, "NASNetMobile", {}), ("nasnet_large", {}, "NASNetLarge", {}),
    ("mobilenet", {}, "MobileNet", {}), ("mobilenet", {"alpha": 0.5}, "MobileNet", {"alpha": 0.5}),
    ("mobilenet", {"alpha": 0.75, "depth_multiplier": 2}, "MobileNet", {"alpha": 0.75, "depth_multiplier": 2}),
    ("mobilenet_v2", {}, "MobileNetV2", {}), ("mobilenet_v2", {"alpha": 0.35}, "MobileNetV2", {"alpha": 0.35}),
    ("mobilenet_v2", {"alpha": 1.4}, "MobileNetV2", {"alpha": 1.4}),
    ("densenet121", {}, "DenseNet121", {}), ("densenet169", {}, "DenseNet169", {}),
    ("densenet201", {}, "DenseNet201", {}), ("vgg16", {}, "VGG16", {}), ("vgg19", {}, "VGG19", {}),
    ("keras_vgg16", {}, "VGG16", {}), ("keras_vgg19", {}, "VGG19", {}),
    ("keras_densenet121", {}, "DenseNet121", {}), ("keras_densenet169", {}, "DenseNet169", {}),
    ("keras_densenet201", {}, "DenseNet201", {}),
]

_KERAS_WEIGHTED = {"Conv2D": "conv", "DepthwiseConv2D": "depthwise", "SeparableConv2D": "separable",
                   "Dense": "dense", "BatchNormalization": "batchnorm"}


@pytest.mark.slow
@pytest.mark.parametrize("spec,sets,name,kwargs", KERAS, ids=lambda v: v if isinstance(v, str) else None)
def test_counts_match_keras_applications(spec, sets, name, kwargs):
    import keras  # a dev dependency: a missing keras fails the test rather than skipping it
    model = getattr(keras.applications, name)(weights=None, **kwargs)
    analysis = _analyze(spec, sets)
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    assert (analysis.cost.params.total, analysis.cost.params.trainable) == (model.count_params(), trainable)
    # the same weighted layers with the same output shapes, in some order
    ours = sorted((n.op.name, n.shape) for n in analysis.graph.topological() if n.op.name in _KERAS_WEIGHTED.values())
    theirs = sorted((_KERAS_WEIGHTED[type(layer).__name__], tuple(layer.output.shape[1:]))
                    for layer in model.layers if type(layer).__name__ in _KERAS_WEIGHTED)
    assert ours == theirs
