"""End to end: compile a spec with `--task classify`, run the script in a fresh process, check what it did.

Each run is a few small epochs on 16x16 images; one body per test over both frameworks.  The compiled folder
runs without cnnc on the path (harness_util.run_script drops PYTHONPATH).
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from harness_util import SMALL, bands_folder, bands_npz, compile_task, final_weights, run_script, weights_file

pytestmark = pytest.mark.slow
TARGETS = ["torch", "keras"]
BEST = {"torch": "best.pt", "keras": "best.weights.h5"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("harness")
    bands_npz(root / "bands.npz", n=160)
    return root


@pytest.fixture(scope="module")
def folders(workdir):
    return {target: compile_task(SMALL, target, workdir / f"small_{target}") for target in TARGETS}


@pytest.fixture(scope="module")
def first_runs(workdir, folders):
    """One 3-epoch run per framework, shared by the tests that only read its results."""
    runs = {}
    for target in TARGETS:
        out = workdir / f"run_{target}"
        proc = run_script(folders[target], "--data", str(workdir / "bands.npz"), "--epochs", "3", "--lr", "0.05",
                          "--batch-size", "16", "--out", str(out))
        runs[target] = (out, proc)
    return runs


@pytest.mark.parametrize("target", TARGETS)
def test_training_reduces_the_loss_and_writes_its_files(first_runs, target):
    out, proc = first_runs[target]
    assert proc.returncode == 0, proc.stdout
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    losses = [float(r["train_loss"]) for r in rows]
    assert losses[-1] < losses[0] * 0.8, losses
    for name in ("last.pt" if target == "torch" else "last.npz", BEST[target], "curves.png", "metrics.json"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    result = json.loads((out / "metrics.json").read_text())
    assert result["examples"] == 32 and result["acc"] >= 0.75, result["acc"]
    assert len(result["confusion_matrix"]) == 4 and set(result["per_class"]) == {"left", "right", "top", "bottom"}
    assert "epoch 3/3 | loss" in proc.stdout
    assert "test: 32 examples" in proc.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_interrupted_run_resumes_to_the_same_weights(workdir, folders, target):
    """Augmentation and dropout on: the resumed run must redraw exactly what the straight run drew."""
    args = ["--data", str(workdir / "bands.npz"), "--epochs", "3", "--lr", "0.05", "--batch-size", "16",
            "--flip", "0.5", "--noise", "0.05", "--shift", "0.1", "--workers", "2", "--optimizer", "adagrad"]
    straight, parts = workdir / f"straight_{target}", workdir / f"parts_{target}"
    assert run_script(folders[target], *args, "--out", str(straight)).returncode == 0
    first = run_script(folders[target], *args, "--out", str(parts), "--stop-after", "2")
    assert first.returncode == 0 and "stopping after 2 epoch(s) of this run" in first.stdout
    second = run_script(folders[target], *args, "--out", str(parts), "--resume")
    assert second.returncode == 0 and "after epoch 2" in second.stdout, second.stdout
    a, b = final_weights(straight, target), final_weights(parts, target)
    assert sorted(a) == sorted(b)
    different = [k for k in a if not np.array_equal(a[k], b[k])]
    assert different == []
    assert len(list(csv.DictReader((parts / "log.csv").open()))) == 3


@pytest.mark.parametrize("target", TARGETS)
def test_frozen_layers_stay_bit_identical(workdir, folders, first_runs, target):
    start = first_runs[target][0] / ("best.pt" if target == "torch" else "last.npz")
    out = workdir / f"frozen_{target}"
    proc = run_script(folders[target], "--data", str(workdir / "bands.npz"), "--epochs", "2", "--lr", "0.05",
                      "--weights", str(start), "--freeze-below", "conv2", "--out", str(out), "--nesterov",
                      "--weight-decay", "0.001", "--l1", "0.00001")
    assert proc.returncode == 0, proc.stdout
    assert "frozen: 2 layers (conv1 .. bn1)" in proc.stdout
    before, after = weights_file(start, target), final_weights(out, target)
    frozen = [k for k in before if k.split(".")[0].split("/")[0] in ("conv1", "bn1") and "seed" not in k]
    assert len(frozen) >= 6  # conv kernel and bias, batch-norm scale, shift, mean, variance
    assert all(np.array_equal(before[k], after[k]) for k in frozen)
    trained = [k for k in before if k.split(".")[0].split("/")[0] in ("conv2", "fc")]
    assert all(not np.array_equal(before[k], after[k]) for k in trained)


@pytest.mark.parametrize("target", TARGETS)
def test_corrupt_image_is_reported_by_name(workdir, folders, target):
    root = bands_folder(workdir / f"images_{target}", per_class=6, size=20, classes=3)
    broken = root / "top" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    proc = run_script(folders[target], "--data", str(root), "--epochs", "1", "--out", str(workdir / "x"))
    assert proc.returncode == 2
    assert f"error: 1 unreadable image file(s):\n  {broken}: " in proc.stdout
    assert "Traceback" not in proc.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_diverging_loss_stops_and_keeps_the_last_good_epoch(workdir, folders, target):
    out = workdir / f"nan_{target}"
    proc = run_script(folders[target], "--data", str(workdir / "bands.npz"), "--epochs", "3", "--lr", "0.01",
                      "--schedule", "step", "--lr-step", "1", "--lr-gamma", "1e9", "--out", str(out))
    assert proc.returncode == 3, proc.stdout
    # the rate of epoch 2 is 1e7: the loss goes NaN there, or (clipped log-probabilities) in epoch 3
    # (or, now that every step is checked from the first, past 100 times its start before it is NaN)
    stopped = re.search(r"error: training stopped at epoch (\d), step \d+: the loss (is not a number \(nan\)|"
                        r"exploded past 100 times its start .*); the last good checkpoint is (\S+) \(epoch (\d)\)",
                        proc.stdout)
    assert stopped, proc.stdout
    kept = int(stopped[4])
    assert int(stopped[1]) in (2, 3) and kept == int(stopped[1]) - 1
    assert stopped[3] == str(out / ("last.pt" if target == "torch" else "last.npz"))
    assert len(list(csv.DictReader((out / "log.csv").open()))) == kept
    weights = final_weights(out, target)
    assert all(np.isfinite(w).all() for w in weights.values())


@pytest.mark.parametrize("target", TARGETS)
def test_transfer_to_new_classes_with_cached_features_then_fine_tuning(workdir, folders, first_runs, target):
    """Start from the 4-class run, replace the head for 3 classes of an image folder, train it on cached
    features, fine-tune the top layer with it, evaluate with 10 crops."""
    start = first_runs[target][0] / ("best.pt" if target == "torch" else "last.npz")
    root = bands_folder(workdir / f"transfer_{target}", per_class=10, size=20, classes=3)
    out = workdir / f"transfer_run_{target}"
    args = ["--data", str(root), "--weights", str(start), "--feature-extract", "--head-epochs", "5",
            "--epochs", "1", "--unfreeze-top", "1", "--ten-crop", "--lr", "0.05", "--out", str(out)]
    proc = run_script(folders[target], *args)
    assert proc.returncode == 0, proc.stdout
    assert "left as initialised: fc" in proc.stdout
    assert "frozen: 2 layers (conv1 .. bn1)" in proc.stdout
    assert len(list((out / "features").glob("train-*.npy"))) == 1
    result = json.loads((out / "metrics.json").read_text())
    assert result["ten_crop"] is True and result["class_names"] == ["left", "right", "top"]
    assert "test (10-crop):" in proc.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_ensemble_averages_runs(workdir, folders, first_runs, target):
    best = str(first_runs[target][0] / BEST[target])
    out = workdir / f"ensemble_{target}"
    proc = run_script(folders[target], "--data", str(workdir / "bands.npz"), "--ensemble", best, best,
                      "--out", str(out))
    assert proc.returncode == 0, proc.stdout
    single = json.loads((first_runs[target][0] / "metrics.json").read_text())
    double = json.loads((out / "metrics.json").read_text())
    assert "test (ensemble of 2):" in proc.stdout
    assert double["acc"] == single["acc"] and double["loss"] == pytest.approx(single["loss"], rel=1e-5)


SIGNAL = """network Signal(num_classes: int = 2) {
  input x: 32x2
  x -> conv(4, 5, padding=same) -> relu -> maxpool(2) -> flatten -> dense(1) -> sigmoid -> output y
}
"""
VOLUME = """network Volume(num_classes: int = 3) {
  input x: 8x8x8x1
  x -> conv(4, 3) -> relu -> global_avgpool -> dense(num_classes) -> output y
}
"""


@pytest.mark.parametrize("target", TARGETS)
def test_signals_with_a_binary_head_and_volumes_with_logits(workdir, target):
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    x = rng.normal(0, 1, (40, 32, 2)) + y[:, None, None] * np.linspace(0, 2, 32)[None, :, None]
    np.savez(workdir / "signal.npz", x=x, y=y)
    np.savez(workdir / "volume.npz", x=rng.random((30, 8, 8, 8)), y=np.arange(30) % 3)
    for name, spec, data in (("signal", SIGNAL, "signal.npz"), ("volume", VOLUME, "volume.npz")):
        folder = compile_task(spec, target, workdir / f"{name}_{target}")
        optimizer = "adam" if name == "signal" else "rmsprop"
        proc = run_script(folder, "--data", str(workdir / data), "--epochs", "2", "--noise", "0.01", "--flip", "0.5",
                          "--out", str(workdir / f"{name}_run_{target}"), "--optimizer", optimizer, "--lr", "0.01")
        assert proc.returncode == 0, proc.stdout
        result = json.loads((workdir / f"{name}_run_{target}" / "metrics.json").read_text())
        assert len(result["confusion_matrix"]) == (2 if name == "signal" else 3)


AUX = """network Aux(num_classes: int = 4) {
  input x: 16x16x1
  h = x -> conv(8, 3, padding=same) -> relu -> maxpool(2)
  h -> conv(8, 3, padding=same) -> relu -> maxpool(2) -> flatten -> dense(num_classes) as fc -> softmax -> output y
  h -> global_avgpool -> dense(num_classes) as aux_fc -> softmax -> output aux
}
"""


@pytest.mark.parametrize("target", TARGETS)
def test_auxiliary_head_is_trained_alongside(workdir, target):
    folder = compile_task(AUX, target, workdir / f"aux_{target}")
    assert 'outputs=("y", "aux")' in (folder / "train.py").read_text()
    out = workdir / f"aux_run_{target}"
    proc = run_script(folder, "--data", str(workdir / "bands.npz"), "--epochs", "3", "--lr", "0.05",
                      "--aux-weight", "0.3", "--out", str(out))
    assert proc.returncode == 0, proc.stdout
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert json.loads((out / "metrics.json").read_text())["examples"] == 32


def test_torchrun_two_processes_end_with_identical_weights(workdir, folders):
    out = workdir / "ddp"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29531"]
    proc = run_script(folders["torch"], "--data", str(workdir / "bands.npz"), "--epochs", "2", "--lr", "0.05",
                      "--batch-size", "16", "--out", str(out), launcher=launcher)
    assert proc.returncode == 0, proc.stdout
    digests = {line.split(":")[0]: line.split()[-1] for line in proc.stdout.splitlines()
               if line.startswith("rank ") and ": weights " in line}
    assert sorted(digests) == ["rank 0", "rank 1"]
    assert digests["rank 0"] == digests["rank 1"]
    assert "ranks agree: identical weights" in proc.stdout
    assert proc.stdout.count("epoch 2/2 |") == 1  # only rank 0 reports


def test_keras_mirrored_strategy_over_two_cpu_devices(workdir, folders):
    proc = run_script(folders["keras"], "--data", str(workdir / "bands.npz"), "--epochs", "2", "--lr", "0.05",
                      "--strategy", "cpu2", "--out", str(workdir / "mirrored"))
    assert proc.returncode == 0, proc.stdout
    assert "strategy: MirroredStrategy, 2 replicas" in proc.stdout
    rows = list(csv.DictReader((workdir / "mirrored" / "log.csv").open()))
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])


def test_cnnc_train_compiles_into_a_build_folder_and_runs(workdir, tmp_path):
    spec = tmp_path / "small.cnn"
    spec.write_text(SMALL)
    build = tmp_path / "build"
    proc = subprocess.run([sys.executable, "-m", "cnnc", "train", str(spec), "--target", "torch", "--data",
                           str(workdir / "bands.npz"), "--epochs", "1", "--build", str(build), "--progress", "none"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout
    assert f"compiled into {build}" in proc.stdout
    assert json.loads((build / "run" / "metrics.json").read_text())["examples"] == 32
    script = (build / "train.py").read_text()
    assert f'"data": "{workdir / "bands.npz"}",' in script and '"epochs": 1,' in script


@pytest.mark.parametrize("target", TARGETS)
def test_compiled_folder_is_lint_clean(folders, target):
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--line-length", "120",
                           "--select", "E,F,W,I,B,UP", "--target-version", "py311", "train.py", "model.py",
                           "cnnc_tasks"],
                          cwd=folders[target], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout


# issue 9: two dense layers set by num_classes; the first one's width feeds the second's input
TWO_DENSE = """network TwoDense(num_classes: int = 10) {
  input x: 8x8x1
  x -> flatten -> dense(num_classes) -> relu -> dense(num_classes) -> softmax -> output y
}
"""


def _columns_npz(path, n: int = 100, classes: int = 5):
    """8x8 images, class k a bright column k, plus noise: learnable by a dense layer in a few steps."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % classes
    x = rng.normal(0.5, 0.2, (n, 8, 8)).astype(np.float32)
    x[np.arange(n), :, y] += 1.5
    np.savez(path, x=x, y=y)
    return path


@pytest.mark.parametrize("target", TARGETS)
def test_two_dense_num_classes_spec_trains_on_five_classes(tmp_path, target):
    spec = tmp_path / "two_dense.cnn"
    spec.write_text(TWO_DENSE)
    data = _columns_npz(tmp_path / "five.npz")

    def train(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cnnc", "train", str(spec), "--target", target, *extra,
                               "--data", str(data), "--epochs", "6", "--lr", "0.05", "--batch-size", "20", "--build",
                               str(tmp_path / f"build-{len(extra)}"), "--progress", "none"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)

    # num_classes also sets the hidden layer: the generated model takes it as a constructor argument for both
    # layers (nn.Linear(num_classes, num_classes)), so the data's five classes need no --set
    trained = train()
    assert trained.returncode == 0, trained.stdout
    run = tmp_path / "build-0" / "run"
    losses = [float(row["train_loss"]) for row in csv.DictReader((run / "log.csv").open())]
    assert len(losses) == 6 and losses[-1] < losses[0], losses
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["examples"] == 20 and len(metrics["confusion_matrix"]) == 5
