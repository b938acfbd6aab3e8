"""The style task, quick: the costs against their numpy reference in both frameworks, the same J in both
for the same images and weights, the plan's layers and diagnostics, the runtime's messages, and what
`cnnc compile --task style` writes.  The end-to-end runs of a compiled folder are marked slow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from conftest import SPECS

from cnnc.cli import main
from cnnc.compiler import analyze
from cnnc.diagnostics import CnncError
from cnnc.tasks.runtime.config import ConfigError
from cnnc.tasks.runtime.data import DataError
from cnnc.tasks.style import plan
from cnnc.tasks.style.runtime import common
from cnnc.tasks.style.runtime.common import StyleHead

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# A small VGG-like feature network: a sequential body, so its activations are modules in PyTorch too.
SMALL = """sequential block stages() {
  h = in
  for (filters, convs) in [(8, 2), (16, 2), (16, 2)] {
    repeat convs { h = h -> conv(filters, 3, padding=same) -> relu }
    h = h -> maxpool(2, stride=2)
  }
  return h
}

network Small(num_classes: int = 4) {
  input x: 24x24x3
  x -> stages() as features -> flatten -> dense(num_classes) as head -> output y
}
"""


# The same without the sequential body: PyTorch applies its ReLUs as functions (F.relu(x, inplace=True)),
# read through FUNCTIONAL (after the module before them).
FUNCTIONAL = """network Plain() {
  input x: 24x24x3
  x -> conv(8, 3, padding=same) -> batchnorm -> relu -> conv(8, 3, padding=same) -> relu -> maxpool(2)
    -> conv(16, 3, padding=same) -> relu -> maxpool(2) -> conv(16, 3, padding=same) -> relu
    -> conv(16, 3, padding=same) -> relu -> flatten -> dense(4) -> output y
}
"""


def _cfg(**kw):
    values = dict(
        alpha=10.0,
        beta=40.0,
        preprocess="imagenet",
        content_layer=None,
        style_layers=[],
        style_weights=[],
        seed=0,
        init_image="mix",
        noise_ratio=0.6,
        lr=0.02,
    )
    return types.SimpleNamespace(**{**values, **kw})


# ---------------------------------------------------------------- the costs against numpy


def _activations(seed: int = 0, shape=(5, 6, 7)):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]


def test_numpy_gram_is_the_sum_over_positions_of_channel_products():
    (a, *_) = _activations()
    expected = np.einsum("ijk,ijl->kl", a.astype(np.float64), a)
    assert np.allclose(common.gram(a), expected)
    assert common.gram(a)[2, 3] == pytest.approx(float(np.sum(a[..., 2].astype(np.float64) * a[..., 3])))


def test_numpy_costs_follow_the_stated_normalisation():
    a_c, a_g, a_s = _activations()
    n_h, n_w, n_c = a_c.shape
    assert common.content_cost(a_c, a_g) == pytest.approx(
        float(((a_c.astype(np.float64) - a_g) ** 2).sum()) / (4 * n_h * n_w * n_c)
    )
    g_s, g_g = common.gram(a_s), common.gram(a_g)
    assert common.layer_style_cost(a_s, a_g) == pytest.approx(
        float(((g_s - g_g) ** 2).sum()) / (4 * n_c**2 * (n_h * n_w) ** 2)
    )
    j_c, j_s, j = common.costs((a_c, a_g), [(a_s, a_g), (a_c, a_g)], (0.25, 0.75), 10.0, 40.0)
    assert j_s == pytest.approx(0.25 * common.layer_style_cost(a_s, a_g) + 0.75 * common.layer_style_cost(a_c, a_g))
    assert j == pytest.approx(10.0 * j_c + 40.0 * j_s)


def test_torch_costs_equal_the_numpy_reference():
    import torch

    from cnnc.tasks.style.runtime import torch as style_torch

    a_c, a_g, a_s = _activations(1)

    def nchw(a):
        return torch.from_numpy(np.moveaxis(a, -1, 0)[None].copy())

    assert np.allclose(style_torch.gram(nchw(a_s)).numpy(), common.gram(a_s), rtol=1e-5, atol=1e-4)
    assert float(style_torch.content_cost(nchw(a_c), nchw(a_g))) == pytest.approx(
        common.content_cost(a_c, a_g), rel=1e-5
    )
    g_s = style_torch.gram(nchw(a_s))
    assert float(style_torch.layer_style_cost(g_s, nchw(a_g))) == pytest.approx(
        common.layer_style_cost(a_s, a_g), rel=1e-5
    )


def test_keras_costs_equal_the_numpy_reference():
    from cnnc.tasks.style.runtime import keras as style_keras

    a_c, a_g, a_s = _activations(2)
    assert np.allclose(np.asarray(style_keras.gram(a_s[None])), common.gram(a_s), rtol=1e-5, atol=1e-4)
    assert float(style_keras.content_cost(a_c[None], a_g[None])) == pytest.approx(
        common.content_cost(a_c, a_g), rel=1e-5
    )
    g_s = style_keras.gram(a_s[None])
    assert float(style_keras.layer_style_cost(g_s, a_g[None])) == pytest.approx(
        common.layer_style_cost(a_s, a_g), rel=1e-5
    )


# ---------------------------------------------------------------- the same J in both frameworks


def _images(size=(24, 24, 3)):
    rng = np.random.default_rng(7)
    return [rng.uniform(0, 1, size).astype(np.float32) for _ in range(3)]


def _layer_names(graph, framework):
    from cnnc.ir.names import code_name, module_path
    from cnnc.tasks.checks import feature_maps

    name = module_path if framework == "torch" else code_name
    return {n.id: name(n.id) for n in feature_maps(graph)}


@pytest.mark.parametrize(("preprocess", "text"), [("imagenet", SMALL), ("caffe", SMALL), ("imagenet", FUNCTIONAL)])
def test_torch_and_keras_give_the_same_costs_for_the_same_images_and_weights(spec_file, preprocess, text):
    import torch
    from differential import keras_model, torch_model

    from cnnc.tasks.checks import functional_taps
    from cnnc.tasks.style.runtime import keras as style_keras
    from cnnc.tasks.style.runtime import torch as style_torch
    from cnnc.weights import load_torch_state_into_keras

    analysis = analyze(spec_file(text))
    head = plan.plan(analysis.graph)
    layers = (head.content_layer, head.style_layers, head.style_weights)
    net_t = torch_model(analysis)
    taps = functional_taps(analysis.graph)
    if text is FUNCTIONAL:  # every default layer is a ReLU the model applies as a function
        assert set(layers[1]) | {layers[0]} <= set(taps) and taps["relu1"] == ("batchnorm1", (("relu", 0.0),))
    net_k = keras_model(analysis)
    load_torch_state_into_keras(analysis.graph, net_t.state_dict(), net_k)
    content, style, g = _images()
    cfg = _cfg(preprocess=preprocess)
    names = [layers[0], *layers[1]]
    j_torch = style_torch.Objective(
        style_torch.Features(net_t, _layer_names(analysis.graph, "torch"), names, taps),
        content,
        style,
        layers,
        cfg,
        torch.device("cpu"),
    ).costs(g)
    j_keras = style_keras.Objective(
        style_keras.Features(net_k, _layer_names(analysis.graph, "keras"), names), content, style, layers, cfg
    ).costs(g)
    assert all(v > 0 for v in j_torch)
    for mine, theirs in zip(j_keras, j_torch, strict=True):  # content, style, total
        assert mine == pytest.approx(theirs, rel=1e-4)


def test_torch_costs_equal_numpy_on_the_network_activations(spec_file):
    """J of the Objective equals common.costs on the activations the hooks read (the wiring, not only the math)."""
    import torch
    from differential import torch_model

    from cnnc.tasks.style.runtime import torch as style_torch

    analysis = analyze(spec_file(SMALL))
    head = plan.plan(analysis.graph)
    layers = (head.content_layer, head.style_layers, head.style_weights)
    features = style_torch.Features(
        torch_model(analysis), _layer_names(analysis.graph, "torch"), [layers[0], *layers[1]]
    )
    content, style, g = _images()
    cfg = _cfg()
    got = style_torch.Objective(features, content, style, layers, cfg, torch.device("cpu")).costs(g)

    def acts(image):
        with torch.no_grad():
            found = features(style_torch.preprocess(torch.from_numpy(image), "imagenet"))
        return {k: np.moveaxis(v[0].numpy(), 0, -1) for k, v in found.items()}

    a_c, a_s, a_g = acts(content), acts(style), acts(g)
    want = common.costs(
        (a_c[layers[0]], a_g[layers[0]]), [(a_s[n], a_g[n]) for n in layers[1]], layers[2], cfg.alpha, cfg.beta
    )
    assert got == pytest.approx(want, rel=1e-4)


# ---------------------------------------------------------------- the plan


def test_default_layers_are_gatys_for_torchvision_vgg19():
    head = plan.plan(analyze(SPECS / "vgg19.cnn").graph)
    assert head.content_layer == "features.22"  # conv4_2's ReLU
    assert head.style_layers == ("features.1", "features.6", "features.11", "features.20", "features.29")
    assert head.style_weights == (0.2,) * 5 and head.size == (224, 224, 3)


def test_default_layers_are_gatys_for_keras_vgg19():
    head = plan.plan(analyze(SPECS / "keras_vgg19.cnn").graph)
    assert head.content_layer == "block4.relu2"
    assert head.style_layers == tuple(f"block{i}.relu1" for i in range(1, 6))


def test_named_layers_and_lambdas_are_taken():
    values = {"content_layer": "features.13", "style_layers": ["features.1", "features.6"], "style_weights": [1, 3]}
    head = plan.plan(analyze(SPECS / "vgg19.cnn").graph, values)
    assert (head.content_layer, head.style_layers, head.style_weights) == (
        "features.13",
        ("features.1", "features.6"),
        (1, 3),
    )


def _error(graph, values):
    with pytest.raises(CnncError) as caught:
        plan.plan(graph, values)
    return caught.value.diagnostics


def test_a_wrong_layer_name_lists_the_valid_ones_and_suggests_one():
    graph = analyze(SPECS / "vgg19.cnn").graph
    (diag,) = _error(graph, {"content_layer": "feature.22"})
    assert diag.code == "E0772"
    assert diag.message == "task `style`: content layer `feature.22` is no layer of `VGG19`"
    assert diag.help == "did you mean `features.22`?"
    assert diag.notes[0].startswith("layers with a feature map: features.0, features.1, features.2,")
    assert "classifier.0" not in diag.notes[0]
    assert (diag.span.line, diag.span.column) == (8, 1)  # the network


def test_a_layer_without_a_feature_map_and_a_wrong_lambda_count_are_both_reported():
    graph = analyze(SPECS / "vgg19.cnn").graph
    diags = _error(graph, {"style_layers": ["features.1", "classifier.0"], "style_weights": [1.0]})
    assert [d.code for d in diags] == ["E0773", "E0774"]
    assert diags[0].message == "task `style`: style layer `classifier.0` is 4096, not a feature map (H x W x C)"
    assert diags[1].message == "task `style`: 1 style weights for 2 style layers"


def test_a_network_without_an_image_input_is_refused(spec_file):
    graph = analyze(spec_file("network V() {\n  input x: 16\n  x -> dense(4) -> output y\n}\n")).graph
    (diag,) = _error(graph, {})
    assert diag.code == "E0771" and diag.message == "task `style` needs one image input (H x W x 1 or 3)"


def test_cnnc_train_prints_the_wrong_layer_with_a_caret(tmp_path, capsys):
    status = main(
        [
            "train",
            str(SPECS / "vgg19.cnn"),
            "--target",
            "torch",
            "--task",
            "style",
            "--content-layer",
            "features.99",
            "--build",
            str(tmp_path / "b"),
        ]
    )
    assert status == 1
    err = capsys.readouterr().err
    assert "error[E0772]: task `style`: content layer `features.99` is no layer of `VGG19`" in err
    assert "network VGG19(" in err and "^" in err and "features.36" in err
    assert not (tmp_path / "b").exists()


# ---------------------------------------------------------------- the runtime's messages


def test_runtime_checks_a_layer_given_to_train_py():
    head = StyleHead("x", (8, 8, 3), "a.relu", ("a.relu",), (1.0,))
    with pytest.raises(ConfigError, match=r"no layer `a.rlu` with a feature map; did you mean a.relu\?"):
        common.resolve(head, {"a.relu": "a_relu"}, _cfg(content_layer="a.rlu"))
    with pytest.raises(ConfigError, match="--style-weights gives 2 lambdas for 1 style layers"):
        common.resolve(head, {"a.relu": "a_relu"}, _cfg(style_weights=[1.0, 2.0]))


def test_an_unreadable_image_is_one_clear_message(tmp_path):
    bad = tmp_path / "style.png"
    bad.write_bytes(b"not a picture")
    with pytest.raises(DataError, match=r"cannot read the style image .*style.png: cannot identify image file"):
        common.read_image(str(bad), (8, 8, 3), "style")
    with pytest.raises(DataError, match="cannot read the content image .*none.png: no such file"):
        common.read_image(str(tmp_path / "none.png"), (8, 8, 3), "content")
    with pytest.raises(ConfigError, match="give the style image: --style FILE"):
        common.read_image(None, (8, 8, 3), "style")


def test_an_image_of_another_size_is_resized_and_said(tmp_path):
    from PIL import Image

    path = tmp_path / "s.png"
    Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(path)
    said = []
    image = common.read_image(str(path), (8, 8, 3), "style", said.append)
    assert image.shape == (8, 8, 3) and np.allclose(image, 200 / 255, atol=1e-6)
    assert said == [f"style image {path}: 20x30, resized to 8x8 (the network's input)"]
    same = []
    common.read_image(str(path), (20, 30, 3), "content", same.append)
    assert same == []


# ---------------------------------------------------------------- the compiled folder


def _compile(tmp_path, target, *extra):
    spec = tmp_path / "small.cnn"
    spec.write_text(SMALL)
    out = tmp_path / f"small_{target}"
    assert main(["compile", str(spec), "--target", target, "--task", "style", "-o", str(out), *extra]) == 0
    return out


@pytest.mark.parametrize("target", ["torch", "keras"])
def test_train_py_names_the_layers_and_the_preprocessing(tmp_path, target):
    source = (_compile(tmp_path, target) / "train.py").read_text()
    # levels 24, 12, 6, 3: the style layers are the first ReLU of each (the last pool at 3x3, which has none), the
    # content layer the fourth level's second activation, or its only layer
    assert 'style_layers=("features.1", "features.6", "features.11", "features.14")' in source
    assert 'content_layer="features.14"' in source
    framework_name = '"features.1": "features.1"' if target == "torch" else '"features.1": "features_1"'
    assert framework_name in source
    assert f'"preprocess": "{"imagenet" if target == "torch" else "caffe"}"' in source


def _run(folder, *args: str):
    """The compiled folder's train.py, without cnnc on the path (as harness_util.run_script, without --progress:
    the style task has no epochs to show)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )


def _images_on_disk(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    content, style = tmp_path / "c.png", tmp_path / "s.png"
    Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(content)
    Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(style)
    return content, style


@pytest.mark.slow
@pytest.mark.parametrize("target", ["torch", "keras"])
@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_a_compiled_folder_runs_and_writes_the_pictures(tmp_path, target, optimizer):
    folder = _compile(tmp_path, target)
    content, style = _images_on_disk(tmp_path)
    done = _run(
        folder,
        "--content",
        str(content),
        "--style",
        str(style),
        "--steps",
        "12",
        "--image-every",
        "5",
        "--optimizer",
        optimizer,
        "--lr",
        "0.05",
    )
    assert done.returncode == 0, done.stdout
    assert "RANDOM weights" in done.stdout
    assert "style image " in done.stdout and "40x30, resized to 24x24" in done.stdout
    run = folder / "run"
    for name in ("result.png", "strip.png", "costs.csv", "costs.png", "step_0005.png"):
        assert (run / name).exists(), name
    steps = [int(line.split(",")[0]) for line in (run / "costs.csv").read_text().splitlines()[1:]]
    assert steps[0] == 0 and steps == list(range(len(steps)))  # L-BFGS may stop before --steps (and says so)
    assert (run / "step_0010.png").exists() == (steps[-1] > 10)
    result = json.loads((run / "result.json").read_text())
    assert result["weights"] == "random" and result["ratio"] > 2, result
    again = _run(folder, "--content", str(content), "--style", str(style), "--steps", "14", "--resume")
    assert again.returncode == 0 and f"resumed at step {steps[-1]}" in again.stdout, again.stdout
    resumed = [int(line.split(",")[0]) for line in (run / "costs.csv").read_text().splitlines()[1:]]
    assert resumed == list(range(15))  # each step once


@pytest.mark.slow
def test_an_unreadable_image_stops_train_py_with_one_line(tmp_path):
    folder = _compile(tmp_path, "torch")
    bad = tmp_path / "bad.png"
    bad.write_text("no")
    done = _run(folder, "--content", str(bad), "--style", str(bad))
    assert done.returncode == 2
    assert done.stdout.strip().splitlines()[-1].startswith(f"error: cannot read the content image {bad}")


# ---------------------------------------------------------------- pretrained weights (the reference's own files)


@pytest.mark.slow
def test_a_torchvision_vgg19_state_dict_gives_torchvisions_features(tmp_path):
    """specs/vgg19.cnn at 64x64 with torchvision's vgg19 state dict (random here: no download): every tensor
    loads, and the content layer's activations are torchvision's own."""
    import torch
    import torchvision
    from differential import load

    from cnnc.backends import torch as torch_backend
    from cnnc.tasks.style.runtime import torch as style_torch

    analysis = analyze(SPECS / "vgg19.cnn", input_shapes={"x": (64, 64, 3)})
    reference = torchvision.models.vgg19(weights=None).eval()
    torch.save(reference.state_dict(), tmp_path / "vgg19.pth")
    model = load(torch_backend.generate(analysis)["model.py"], "style_vgg19")
    env = style_torch.setup(types.SimpleNamespace(device="cpu", threads=0, seed=0))
    said = []
    env.log = said.append
    cfg = types.SimpleNamespace(weights=str(tmp_path / "vgg19.pth"))
    features = style_torch.feature_network(model.build_model, {"features.22": "features.22"}, ["features.22"], cfg, env)
    assert said == [f"weights: 38/38 tensors from {tmp_path / 'vgg19.pth'}"]
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        want = reference.features[:23](x)
    assert torch.allclose(features(x.contiguous(memory_format=torch.channels_last))["features.22"], want, atol=1e-5)


@pytest.mark.slow
def test_the_keras_vgg19_weights_file_loads_by_layer_name_at_another_size(tmp_path):
    """specs/keras_vgg19.cnn at 64x64 with keras.applications' VGG19 weights as its own .h5 (random, notop):
    the convolutions load by name, and block4's activations are keras.applications'."""
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    from cnnc.backends.keras import build
    from cnnc.tasks.style.runtime import keras as style_keras

    analysis = analyze(SPECS / "keras_vgg19.cnn", input_shapes={"x": (64, 64, 3)})
    reference = keras.applications.VGG19(weights=None, include_top=False, input_shape=(64, 64, 3))
    path = tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    import h5py

    with h5py.File(path, "w") as f:  # the layout keras.applications downloads
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    env = style_keras.setup(types.SimpleNamespace(threads=0, seed=0))
    said = []
    env.log = said.append
    features = style_keras.feature_network(
        lambda: build(analysis.graph),
        {"block4.relu2": "block4_relu2"},
        ["block4.relu2"],
        types.SimpleNamespace(weights=str(path)),
        env,
    )
    assert said[0].startswith("weights: 16 layers by name from ")
    x = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    want = np.asarray(keras.Model(reference.input, reference.get_layer("block4_conv2").output)(x))
    assert np.allclose(np.asarray(features(x)["block4.relu2"]), want, rtol=1e-4, atol=1e-3 * np.abs(want).max())
