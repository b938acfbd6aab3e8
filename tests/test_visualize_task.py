"""The visualize task: its plan and diagnostics, the patches' geometry against the network itself, and the
compiled folder on the digits LeNet writing nine-patch grids at the layer's receptive field (both
frameworks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import SPECS

from cnnc.cli import main
from cnnc.compiler import analyze
from cnnc.diagnostics import CnncError
from cnnc.tasks.visualize import plan
from cnnc.tasks.visualize.runtime import common

LENET = SPECS / "lenet5.cnn"


def test_the_default_layer_is_the_last_conv_and_its_field_comes_from_the_pass():
    graph = analyze(LENET).graph
    head = plan.plan(graph)
    assert (head.layer, head.units, head.size) == ("conv2", tuple(range(16)), (32, 32, 1))
    conv2 = graph.node("conv2")
    assert (conv2.receptive_field, conv2.receptive_jump, conv2.receptive_start) == ((14, 14), (2, 2), (0, 0))


def test_same_padding_moves_the_field_into_the_padding():
    graph = analyze(SPECS / "vgg19.cnn").graph
    node = graph.node("features.2")  # two 3x3 convs, padding 1 each: the field starts 2 pixels before the image
    assert (node.receptive_field, node.receptive_jump, node.receptive_start) == ((5, 5), (1, 1), (-2, -2))
    node = graph.node("features.5")  # after the first 2x2 pool: jump 2, one more pixel of padding at jump 2
    assert (node.receptive_field, node.receptive_jump, node.receptive_start) == ((10, 10), (2, 2), (-4, -4))


@pytest.mark.parametrize(
    ("values", "code", "message"),
    [
        ({"layer": "conv3"}, "E0777", "task `visualize`: layer `conv3` is no layer of `LeNet5`"),
        ({"layer": "dense1"}, "E0778", "task `visualize`: layer `dense1` is 120, not a feature map (H x W x C)"),
        ({"layer": "conv1", "units": [2, 6]}, "E0779", "task `visualize`: layer `conv1` has no unit 6"),
    ],
)
def test_a_wrong_layer_or_unit_is_a_diagnostic(values, code, message):
    with pytest.raises(CnncError) as caught:
        plan.plan(analyze(LENET).graph, values)
    (diag,) = caught.value.diagnostics
    assert (diag.code, diag.message) == (code, message)
    assert (diag.span.line, diag.span.column) == (6, 1)
    if code == "E0777":
        assert diag.notes == ["layers with a feature map: conv1, tanh1, avgpool1, conv2, tanh2, avgpool2"]
        assert diag.help == "did you mean `conv2`?"


def test_a_patch_is_exactly_what_the_unit_sees():
    """Changing every pixel outside a unit's patch leaves its activation as it is; one inside changes it."""
    import torch
    from differential import torch_model

    analysis = analyze(LENET)
    node = analysis.graph.node("conv2")
    geometry = (node.receptive_field, node.receptive_jump, node.receptive_start)
    model = torch_model(analysis)
    image = np.random.default_rng(0).uniform(0, 1, (32, 32, 1)).astype(np.float32)

    def conv2(x):  # conv1 -> tanh -> avgpool(2) -> conv2, unit 5, as LeNet-5's forward computes it
        with torch.no_grad():
            t = torch.from_numpy(x.transpose(2, 0, 1)[None].copy())
            return model.conv2(torch.nn.functional.avg_pool2d(torch.tanh(model.conv1(t)), 2))[0, 5].numpy()

    i, j = 3, 4
    top, left = 0 + i * 2, 0 + j * 2
    outside = np.random.default_rng(1).uniform(0, 1, image.shape).astype(np.float32)
    outside[top : top + 14, left : left + 14] = image[top : top + 14, left : left + 14]
    assert conv2(outside)[i, j] == pytest.approx(conv2(image)[i, j], abs=1e-6)
    inside = image.copy()
    inside[top + 13, left] += 1.0
    assert conv2(inside)[i, j] != pytest.approx(conv2(image)[i, j], abs=1e-6)
    assert np.array_equal(common.patch(image, i, j, geometry), image[top : top + 14, left : left + 14])


def test_top_patches_rank_each_images_strongest_response():
    acts = np.zeros((4, 3, 3, 2), np.float32)
    acts[0, 1, 2, 0], acts[1, 0, 0, 0], acts[2, 2, 1, 0], acts[3, 1, 1, 0] = 5, 9, 7, 1
    images = np.arange(4 * 8 * 8, dtype=np.float32).reshape(4, 8, 8, 1)
    found = common.top_patches(acts, images, [0], ((4, 4), (2, 2), (-1, -1)), top=3)
    assert [p[:4] for p in found[0]["places"]] == [(1, 0, 0, 9.0), (2, 2, 1, 7.0), (0, 1, 2, 5.0)]
    first = found[0]["patches"][0]  # unit (0, 0) of image 1: rows/cols -1..2, the first row and column padding
    assert first.shape == (4, 4, 1) and first[0].sum() == 0 and first[:, 0].sum() == 0
    assert np.array_equal(first[1:, 1:], images[1, 0:3, 0:3])


def _digits(path):
    from sklearn.datasets import load_digits

    small = load_digits().images[:60]
    x = np.kron(small, np.ones((4, 4))) * (255 / 16)  # 8x8 -> 32x32, 0..255
    np.savez(path, x=x.astype(np.uint8)[..., None])
    return path


@pytest.mark.parametrize("target", ["torch", pytest.param("keras", marks=pytest.mark.slow)])  # Keras: start-up
def test_lenet_digits_write_nine_patch_grids_at_the_receptive_field(tmp_path, target):
    folder = tmp_path / f"vis_{target}"
    assert main(["compile", str(LENET), "--target", target, "--task", "visualize", "-o", str(folder)]) == 0
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    command = [
        sys.executable,
        "visualize.py",
        "--images",
        str(_digits(tmp_path / "d.npz")),
        "--units",
        "0",
        "7",
        "--zoom",
        "2",
    ]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "RANDOM weights" in done.stdout and "receptive field 14x14 (jump 2x2)" in done.stdout
    out = folder / "visualize"
    field = analyze(LENET).graph.node("conv2").receptive_field
    with np.load(out / "patches.npz") as blob:
        assert sorted(blob) == ["unit_0", "unit_7"]
        assert blob["unit_0"].shape == (9, *field, 1)
    from PIL import Image

    with Image.open(out / "unit_007.png") as grid:
        assert grid.size == (3 * (field[1] * 2 + 1) + 1, 3 * (field[0] * 2 + 1) + 1)
    top = json.loads((out / "top.json").read_text())
    assert top["receptive_field"] == [14, 14] and len(top["units"]["7"]) == 9
    assert len({p["image"] for p in top["units"]["7"]}) == 9  # one patch per image


def test_a_wrong_unit_at_run_time_is_one_line():
    head = common.VisualizeHead("x", (32, 32, 1), "conv2", (0,))
    import types

    cfg = types.SimpleNamespace(layer="conv1", units=[9])
    from cnnc.tasks.runtime.config import ConfigError

    with pytest.raises(ConfigError, match="layer `conv1` has units 0..5; no unit 9"):
        common.resolve(head, {"conv1": "conv1", "conv2": "conv2"}, {"conv1": ((5, 5), (1, 1), (0, 0), 6)}, cfg)


def test_images_of_another_size_in_a_npz_are_resized_and_said(tmp_path):
    from sklearn.datasets import load_digits

    np.savez(tmp_path / "digits.npz", x=load_digits().images[:5].astype(np.float32))  # 8x8, 0..16
    said = []
    x = common.read_images(str(tmp_path / "digits.npz"), (32, 32, 1), said.append)
    assert x.shape == (5, 32, 32, 1) and x.dtype == np.float32 and x.max() == 1.0  # / the peak, as the harness
    standard = common.network_input(x, "standardize", said.append)
    assert abs(standard.mean()) < 1e-5 and standard.std() == pytest.approx(1.0, rel=1e-4)
    assert said[0] == f"images: 8x8 in {tmp_path / 'digits.npz'}, resized to 32x32 (bilinear, as the harness does)"


def test_unreadable_images_are_one_clear_message(tmp_path):
    from cnnc.tasks.runtime.data import DataError

    (tmp_path / "bad.npz").write_text("no")
    with pytest.raises(DataError, match=r"cannot read .*bad.npz: .* \(a .npz with an array `x`\)"):
        common.read_images(str(tmp_path / "bad.npz"), (32, 32, 1))
    with pytest.raises(DataError, match="neither a folder of images nor a .npz file"):
        common.read_images(str(tmp_path / "none.png"), (32, 32, 1))
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "a.png").write_text("no")
    with pytest.raises(DataError, match=r"cannot read image .*a.png"):
        common.read_images(str(tmp_path / "pics"), (32, 32, 1))


def test_a_layer_that_is_a_function_in_pytorch_reads_as_in_keras():
    """tanh2 is `torch.tanh(x)` in the PyTorch model: read after conv2 (FUNCTIONAL), it equals Keras' layer."""
    import types

    import torch
    from differential import keras_model, torch_model

    from cnnc.ir.names import code_name, module_path
    from cnnc.tasks.checks import functional_taps
    from cnnc.tasks.visualize.runtime import keras as vis_keras
    from cnnc.tasks.visualize.runtime import torch as vis_torch
    from cnnc.weights import load_torch_state_into_keras

    analysis = analyze(LENET)
    net_t, net_k = torch_model(analysis), keras_model(analysis)
    load_torch_state_into_keras(analysis.graph, net_t.state_dict(), net_k)
    cfg = types.SimpleNamespace(weights=None)
    env = types.SimpleNamespace(device=torch.device("cpu"))
    taps = functional_taps(analysis.graph)
    assert taps["tanh2"] == ("conv2", (("tanh", 0.0),))
    ours = vis_torch.feature_network(lambda: net_t, {"tanh2": module_path("tanh2")}, "tanh2", cfg, env, taps)
    theirs = vis_keras.feature_network(lambda: net_k, {"tanh2": code_name("tanh2")}, "tanh2", cfg, env)
    x = np.random.default_rng(3).uniform(0, 1, (4, 32, 32, 1)).astype(np.float32)
    got, want = vis_torch.activations(ours, x, 2, env), vis_keras.activations(theirs, x, 2, env)
    assert got.shape == want.shape == (4, 10, 10, 16)
    assert np.allclose(got, want, atol=1e-5)
