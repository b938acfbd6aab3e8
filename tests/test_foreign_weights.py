"""Weights from elsewhere (issue 10): torchvision and keras.applications files aligned to a spec's model.

The references are built with weights=None (random, no download); their batch-norm statistics are
randomised too, so a buffer put in the wrong place changes the outputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from cnnc.backends.torch.model import render_model
from cnnc.cli import main
from cnnc.compiler import analyze
from cnnc.foreign_weights import WeightsError, import_weights
from tests.torch_helpers import ROOT, load

RESNET18 = ROOT / "specs" / "resnet18.cnn"
MOBILENET_V2 = ROOT / "specs" / "mobilenet_v2.cnn"


def _randomise_batch_norms(model: torch.nn.Module) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.randn(n, generator=generator) * 0.1 + 1)
            module.num_batches_tracked.fill_(7)
    return model.eval()


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """(torchvision's resnet18, its state dict saved as a .pth)."""
    reference = _randomise_batch_norms(torchvision.models.resnet18(weights=None))
    path = tmp_path_factory.mktemp("tv") / "torchvision_resnet18.pth"
    torch.save(reference.state_dict(), path)
    return reference, path


def _generated_torch(spec, **input_shapes):
    analysis = analyze(spec, input_shapes=input_shapes or None)
    assert analysis.ok
    return analysis, load(render_model(analysis.graph).src).build_model().eval()


def test_torchvision_resnet18_into_the_generated_torch_model(resnet18_file, tmp_path, capsys):
    reference, path = resnet18_file
    out = tmp_path / "resnet18.pt"
    assert main(["import-weights", str(RESNET18), str(path), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "layer1.0.conv1.weight -> " in printed and "(64, 64, 3, 3)" in printed
    assert "matched 102 tensors of" in printed and "by name" in printed  # the spec names its layers as torchvision does
    _, model = _generated_torch(RESNET18)
    model.load_state_dict(torch.load(out, weights_only=True), strict=True)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (model(x) - reference(x)).abs().max().item() < 1e-5
    counters = [v for k, v in torch.load(out, weights_only=True).items() if k.endswith("num_batches_tracked")]
    assert len(counters) == 20 and all(v.shape == () and int(v) == 7 for v in counters)


def test_a_generated_state_dict_is_matched_by_name(resnet18_file, tmp_path):
    _, path = resnet18_file
    analysis = analyze(RESNET18)
    once = tmp_path / "once.pt"
    assert main(["import-weights", str(RESNET18), str(path), "-o", str(once), "--quiet"]) == 0
    again = import_weights(analysis.graph, once)
    assert again.by == "name" and len(again.matches) == 102
    assert all(m.source == m.target for m in again.matches)


def test_resnet34_weights_are_refused_by_resnet18_naming_the_layer_and_shapes(tmp_path, capsys):
    path = tmp_path / "resnet34.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), path)
    assert main(["import-weights", str(RESNET18), str(path), "-o", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith(f"cnnc: error: {path} does not fit the spec: layer1.2.conv1.weight is (64, 64, 3, 3)")
    assert "needs (128, 64, 3, 3)" in first
    assert "conv `layer_2.residual_basic1.conv1`" in err or "layer2.0.conv1" in err
    assert not (tmp_path / "x.pt").exists()


def test_a_new_head_is_left_as_initialised_only_when_asked(resnet18_file):
    _, path = resnet18_file
    analysis = analyze(RESNET18, overrides={"num_classes": 3})
    with pytest.raises(WeightsError, match=r"fc.weight is \(1000, 512\), the spec's .* needs \(3, 512\)"):
        import_weights(analysis.graph, path)
    imported = import_weights(analysis.graph, path, new_head=True)
    assert len(imported.matches) == 100 and len(imported.left) == 2
    assert imported.report()[-1].startswith("(new head) ") and imported.report()[-1].endswith("left as initialised")


@pytest.mark.parametrize("content", [b"not a state dict at all", b"\x89HDF\r\n\x1a\n broken"])
@pytest.mark.parametrize("name", ["weights.pth", "weights.h5"])
def test_corrupt_files_give_exit_2_and_one_line_naming_the_file(tmp_path, capsys, content, name):
    path = tmp_path / name
    path.write_bytes(content)
    assert main(["import-weights", str(RESNET18), str(path), "-o", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"cnnc: error: cannot read weights {path}: ")


def test_a_state_dict_of_something_else_and_a_missing_file_give_exit_2(tmp_path, capsys):
    path = tmp_path / "numbers.pth"
    torch.save([1, 2, 3], path)
    assert main(["import-weights", str(RESNET18), str(path), "-o", str(tmp_path / "x.pt")]) == 2
    assert (
        capsys.readouterr().err == f"cnnc: error: cannot read weights {path}: not a PyTorch state dict "
        "(a dict of tensors)\n"
    )
    assert main(["import-weights", str(RESNET18), str(tmp_path / "none.pth"), "-o", str(tmp_path / "x.pt")]) == 2
    assert capsys.readouterr().err == f"cnnc: error: no weights file {tmp_path / 'none.pth'}\n"


# import-weights, and convert-weights (the name says the frameworks, so it takes foreign files too)
VERBS = {
    "import": ["import-weights", str(RESNET18), "{src}", "-o", "{out}", "--target", "keras", "--quiet"],
    "convert": ["convert-weights", str(RESNET18), "--from", "torch", "--to", "keras", "{src}", "{out}"],
}


@pytest.mark.slow
@pytest.mark.parametrize("verb", sorted(VERBS))
def test_torchvision_resnet18_into_the_generated_keras_model(resnet18_file, tmp_path, capsys, verb):
    from cnnc.backends import keras as keras_backend

    reference, path = resnet18_file
    out = tmp_path / "resnet18.weights.h5"
    assert main([arg.format(src=path, out=out) for arg in VERBS[verb]]) == 0
    assert "matched 102 tensors" in capsys.readouterr().out
    model = keras_backend.build(analyze(RESNET18).graph)
    model.load_weights(str(out))
    x = np.random.default_rng(1).standard_normal((2, 224, 224, 3)).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    assert np.abs(np.asarray(model(x, training=False)) - expected).max() < 1e-4


def _keras_mobilenet_v2():
    """keras.applications' MobileNetV2 at 96x96 (weights=None) with random batch-norm statistics."""
    import keras

    model = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3))
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.get_weights()[0].shape
            layer.set_weights(
                [rng.normal(1, 0.1, n), rng.normal(0, 0.1, n), rng.normal(0, 0.1, n), rng.uniform(0.5, 1.5, n)]
            )
    return model


def _legacy_h5(model, path) -> None:
    """The format of the keras.applications downloads (tf.keras' save_weights to .h5)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


@pytest.mark.slow
@pytest.mark.parametrize("file_name", ["mobilenet_v2.weights.h5", "mobilenet_v2.h5"])
def test_keras_mobilenet_v2_into_the_generated_torch_model(tmp_path, capsys, file_name):
    reference = _keras_mobilenet_v2()
    path = tmp_path / file_name
    reference.save_weights(str(path)) if file_name.endswith(".weights.h5") else _legacy_h5(reference, path)
    out = tmp_path / "mobilenet_v2.pt"
    command = ["import-weights", str(MOBILENET_V2), str(path), "-o", str(out), "--input", "96x96x3"]
    assert main(command) == 0
    assert "matched 262 tensors" in capsys.readouterr().out
    _, model = _generated_torch(MOBILENET_V2, x=(96, 96, 3))
    model.load_state_dict(torch.load(out, weights_only=True), strict=True)
    x = np.random.default_rng(2).standard_normal((2, 96, 96, 3)).astype(np.float32)
    with torch.no_grad():
        got = model(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    assert np.abs(got - np.asarray(reference(x, training=False))).max() < 1e-5


@pytest.mark.slow
def test_cnnc_train_starts_from_torchvision_weights_with_a_new_head(resnet18_file, tmp_path):
    import subprocess
    import sys

    from harness_util import bands_folder

    _, path = resnet18_file
    data = bands_folder(tmp_path / "data", per_class=4, size=20, classes=3)
    build = tmp_path / "build"
    command = [
        sys.executable,
        "-m",
        "cnnc",
        "train",
        str(RESNET18),
        "--target",
        "torch",
        "--input",
        "32x32x3",
        "--data",
        str(data),
        "--weights",
        str(path),
        "--epochs",
        "1",
        "--lr",
        "0",
        "--build",
        str(build),
        "--progress",
        "none",
    ]  # lr 0: the weights after one epoch are the ones loaded
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout
    assert f"weights: {path} matches the model by name" in proc.stdout  # the spec names layers as torchvision
    assert "weights: 120/122 tensors from" in proc.stdout  # all but the new head's weight and bias
    trained = torch.load(build / "run" / "last.pt", weights_only=False)["model"]
    source = torch.load(path, weights_only=True)
    (stem,) = [v for v in trained.values() if v.shape == (64, 3, 7, 7)]
    assert torch.equal(stem, source["conv1.weight"])
    assert sorted(tuple(v.shape) for v in trained.values() if v.shape[:1] == (3,)) == [(3,), (3, 512)]


@pytest.mark.slow
def test_a_compiled_train_py_aligns_a_torchvision_state_dict_by_order(resnet18_file, tmp_path):
    """train.py runs without cnnc, so without the spec: a torch file with none of the model's names is
    aligned by order and shape there, and one that does not fit is refused whole."""
    from harness_util import bands_folder, run_script

    _, named = resnet18_file
    path = tmp_path / "renamed_resnet18.pth"  # the library spec takes torchvision's names; these match none
    torch.save({f"net.{k}": v for k, v in torch.load(named, weights_only=True).items()}, path)
    folder = tmp_path / "resnet18"
    command = ["compile", str(RESNET18), "--target", "torch", "--task", "classify", "--input", "32x32x3"]
    assert main([*command, "-o", str(folder)]) == 0
    data = bands_folder(tmp_path / "data", per_class=4, size=20, classes=3)
    proc = run_script(folder, "--data", str(data), "--weights", str(path), "--epochs", "1", "--lr", "0")
    assert proc.returncode == 0, proc.stdout
    assert f"weights: 100/122 tensors from {path} (no name in common: aligned by order and shape)" in proc.stdout
    trained = torch.load(folder / "run" / "last.pt", weights_only=False)["model"]
    (stem,) = [v for v in trained.values() if v.shape == (64, 3, 7, 7)]
    assert torch.equal(stem, torch.load(named, weights_only=True)["conv1.weight"])
    resnet34 = torchvision.models.resnet34(weights=None).state_dict()
    wrong = tmp_path / "resnet34.pth"
    torch.save({f"net.{k}": v for k, v in resnet34.items()}, wrong)
    proc = run_script(folder, "--data", str(data), "--weights", str(wrong), "--epochs", "1")
    assert proc.returncode != 0
    assert f"error: {wrong} does not fit the model: 182 tensors, the model has 102" in proc.stdout
    torch.save(resnet34, wrong)  # torchvision's own names: resnet18's are a subset of them
    proc = run_script(folder, "--data", str(data), "--weights", str(wrong), "--epochs", "1")
    assert proc.returncode != 0
    assert f"error: {wrong} does not fit the model: 96 of its tensors have no place in it" in proc.stdout


def test_a_compiled_keras_train_py_sends_a_pytorch_file_to_the_command_that_has_the_spec(resnet18_file):
    from cnnc.tasks.runtime import keras_lib
    from cnnc.tasks.runtime.config import ConfigError

    _, path = resnet18_file
    with pytest.raises(ConfigError, match=rf"^{path} is a PyTorch state dict: run `cnnc train SPEC --target keras"):
        keras_lib.load_matching(None, str(path), env=None)
