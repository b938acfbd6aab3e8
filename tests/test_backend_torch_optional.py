"""One PyTorch class for a block's calls with and without an optional part (`if` without `else`),
as torchvision's `Bottleneck` with its optional `downsample` (cnnc/backends/torch/optional.py)."""

from __future__ import annotations

import re

import torch
from torch_helpers import ROOT, as_tuple, compile_spec, load

F = torch.nn.functional
SPECS = ROOT / "specs"


def classes(source: str) -> list[str]:
    return re.findall(r"^class (\w+)\(", source, flags=re.MULTILINE)


def test_resnet50_has_one_bottleneck_class_with_an_optional_downsample():
    _, source = compile_spec(SPECS / "resnet50.cnn")
    assert classes(source) == ["ResidualBottleneck", "ResNet50"]
    signature = "def __init__(self, in_channels: int, filters: int, stride: int, downsample: bool = False) -> None:"
    assert signature in source
    built = "        self.downsample = None\n        if downsample:\n            self.downsample = nn.Sequential("
    assert built in source
    assert (
        "        short = x\n"
        "        if self.downsample is not None:\n"
        "            short = self.downsample(x)  # blocks.cnn:39 -> 256x56x56\n"
        "        main += short  # blocks.cnn:41\n"
    ) in source
    # the first block of each stage projects its shortcut, the others keep the default
    assert source.count("downsample=True)") == 4
    assert "ResidualBottleneck(in_channels=256, filters=64, stride=1)," in source


def test_resnet18_basic_blocks_and_keras_bottlenecks_share_one_class():
    _, resnet18 = compile_spec(SPECS / "resnet18.cnn")
    assert [c for c in classes(resnet18) if c.startswith("ResidualBasic")] == ["ResidualBasic"]
    # keras.applications' bottleneck computes its shortcut first: the part is at the top of forward
    _, keras = compile_spec(SPECS / "keras_resnet50.cnn")
    assert [c for c in classes(keras) if c.startswith("KerasBottleneck")] == ["KerasBottleneck"]
    assert "        short = x\n        if self.v_0_conv is not None:\n            h = self.v_0_conv(x)" in keras


# `add(short, main)`: with the projection `short` is a fresh tensor the add may overwrite, without it
# `short` is the block's input, which the caller reads again (`add(c, b)`).
OPTIONAL = """block unit(filters: int, stride: int = 1) {
  main = in -> conv(filters, 3, stride=stride, padding=1, bias=false) as conv1 -> batchnorm as bn1
  short = in
  if stride != 1 or in.c != filters {
    short = in -> (conv(filters, 1, stride=stride, bias=false) -> batchnorm) as proj
  }
  return add(short, main) -> relu
}

network Optional() {
  input x: 8x8x4
  a = x -> unit(4) as first
  b = a -> unit(8, stride=2) as second
  c = b -> unit(8) as third
  add(c, b) -> output y
}
"""


def _unit(block: torch.nn.Module, x: torch.Tensor, projects: bool) -> torch.Tensor:
    main = block.bn1(block.conv1(x))
    short = block.proj[1](block.proj[0](x)) if projects else x
    return (short + main).relu()


def test_calls_with_and_without_the_part_share_a_class_and_compute_the_same(tmp_path):
    _, source = compile_spec(tmp_path / "optional.cnn", OPTIONAL)
    assert classes(source) == ["Unit", "Optional"]
    assert "def __init__(self, in_channels: int, filters: int, stride: int, proj: bool = False) -> None:" in source
    assert "self.first = Unit(in_channels=4, filters=4, stride=1)" in source
    assert "self.second = Unit(in_channels=4, filters=8, stride=2, proj=True)" in source
    assert "self.third = Unit(in_channels=8, filters=8, stride=1)" in source
    # never `short += main`: without the part, `short` is the caller's tensor
    assert "short +=" not in source and "main += short" in source
    model = load(source, "optional_part").build_model()
    assert model.first.proj is None and model.third.proj is None and model.second.proj is not None
    assert sorted(k for k in model.state_dict() if ".proj." in k) == [
        "second.proj.0.weight",
        "second.proj.1.bias",
        "second.proj.1.num_batches_tracked",
        "second.proj.1.running_mean",
        "second.proj.1.running_var",
        "second.proj.1.weight",
    ]
    model.eval()
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        a = _unit(model.first, x, False)
        b = _unit(model.second, a, True)
        expected = _unit(model.third, b, False) + b
        assert torch.allclose(model(x), expected, atol=1e-6)


def test_a_call_without_the_part_leaves_its_input_alone_in_training(tmp_path):
    _, source = compile_spec(tmp_path / "optional.cnn", OPTIONAL)
    model = load(source, "optional_train").build_model().train()
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(6))
    kept = x.clone()
    b = model.second(model.first(x))
    b_kept = b.detach().clone()
    c = model.third(b)
    assert torch.equal(b.detach(), b_kept)  # `third` skips the part: its input is the caller's `b`
    (c + b).square().mean().backward()
    assert torch.equal(x, kept)
    assert all(p.grad is not None for p in model.parameters())


# The part holds no module: the class keeps the flag, named after the condition.
ACTIVATION = """block unit(filters: int, act: bool = true) {
  h = in -> conv(filters, 1) as conv
  if act { h = h -> relu }
  return h
}

network Acts() {
  input x: 4x4x2
  x -> unit(4) -> unit(4, act=false) -> unit(4) -> output y
}
"""


def test_a_part_without_a_module_is_a_flag_the_class_keeps(tmp_path):
    _, source = compile_spec(tmp_path / "acts.cnn", ACTIVATION)
    assert classes(source) == ["Unit", "Acts"]
    assert "        self.conv = nn.Conv2d(in_channels, filters, 1)\n        self.act = act\n" in source
    assert "        if self.act:\n            h = F.relu(h, inplace=True)  # line 3\n" in source
    assert source.count("act=True)") == 2
    model = load(source, "acts").build_model().eval()
    x = torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        expected = model.unit3.conv(model.unit2.conv(model.unit1.conv(x).relu())).relu()
        assert torch.allclose(as_tuple(model(x))[0], expected, atol=1e-6)


ALWAYS = """block unit(filters: int) {
  short = in
  if in.c != filters { short = in -> conv(filters, 1) as proj }
  return add(in -> conv(filters, 3, padding=1) as conv, short)
}

network Always() {
  input x: 4x4x2
  x -> unit(4) -> unit(8) -> output y
}
"""


def test_a_part_every_call_runs_is_no_flag(tmp_path):
    _, source = compile_spec(tmp_path / "always.cnn", ALWAYS)
    assert classes(source) == ["Unit", "Always"]
    assert "bool" not in source and "= None" not in source and "short = self.proj(x)" in source
