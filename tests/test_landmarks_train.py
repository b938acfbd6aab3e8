"""End to end, --task landmarks: compile, run the script in a fresh process (no cnnc on the path), check what
it did: the report and the drawn points, resume to identical weights, DDP and tf.distribute, the CSV format
with its flip pairs, a bad label file, and the example's bar.  Generated kites (examples/landmarks)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time

import numpy as np
import pytest
from harness_util import ROOT, compile_task, example_module, final_weights, run_script

pytestmark = pytest.mark.slow
TARGETS = ["torch", "keras"]
EXAMPLE = ROOT / "examples" / "landmarks"
SPEC = """network Kites(num_points: int = 4) {
  input x: 32x32x1
  x -> conv(8, 3, padding=same) as conv1 -> batchnorm as bn1 -> relu -> maxpool(2)
    -> conv(16, 3, padding=same) as conv2 -> relu -> maxpool(2)
    -> flatten -> dense(32) as fc1 -> relu -> dropout(0.2) -> dense(2 * num_points) as head -> output y
}
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    make_data = example_module("landmarks")

    root = tmp_path_factory.mktemp("landmarks")
    arrays = make_data.make(count=220, seed=1)
    np.savez(root / "small.npz", **arrays)
    make_data.write_folder({k: (v[:30] if k != "flip_pairs" else v) for k, v in arrays.items()}, root / "folder")
    return root


@pytest.fixture(scope="module")
def folders(workdir):
    return {target: compile_task(SPEC, target, workdir / f"lm_{target}", task="landmarks") for target in TARGETS}


ARGS = ["--epochs", "3", "--optimizer", "adam", "--lr", "0.003", "--batch-size", "16", "--draw", "4"]


@pytest.mark.parametrize("target", TARGETS)
def test_training_writes_the_report_curves_and_drawn_points(workdir, folders, target):
    out = workdir / f"run_{target}"
    proc = run_script(folders[target], "--data", str(workdir / "small.npz"), *ARGS, "--out", str(out))
    assert proc.returncode == 0, proc.stdout
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert list(rows[0])[:7] == ["epoch", "lr", "train_loss", "val_loss", "val_nme", "val_pck05", "val_pck10"]
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    result = json.loads((out / "metrics.json").read_text())
    assert (result["examples"], result["points"]) == (44, 4)
    assert 0.0 <= result["pck05"] <= result["pck10"] <= 1.0 and result["nme"] > 0
    assert "test: 44 examples of 4 points" in proc.stdout and "normalised by the sqrt of the box area" in proc.stdout
    assert (out / "predictions.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("target", TARGETS)
def test_interrupted_run_resumes_to_the_same_weights(workdir, folders, target):
    """Augmentation (points moved with the image, the wings swapped by mirrors) and dropout on: the resumed
    run redraws what the straight one drew."""
    args = [
        "--data",
        str(workdir / "small.npz"),
        *ARGS,
        "--flip",
        "0.5",
        "--shift",
        "0.1",
        "--zoom",
        "0.1",
        "--workers",
        "2",
        "--draw",
        "0",
    ]
    straight, parts = workdir / f"straight_{target}", workdir / f"parts_{target}"
    assert run_script(folders[target], *args, "--out", str(straight)).returncode == 0
    first = run_script(folders[target], *args, "--out", str(parts), "--stop-after", "2")
    assert first.returncode == 0 and "stopping after 2 epoch(s) of this run" in first.stdout
    second = run_script(folders[target], *args, "--out", str(parts), "--resume")
    assert second.returncode == 0 and "after epoch 2" in second.stdout, second.stdout
    a, b = final_weights(straight, target), final_weights(parts, target)
    assert sorted(a) == sorted(b)
    assert [k for k in a if not np.array_equal(a[k], b[k])] == []


def test_torchrun_two_processes_end_with_identical_weights(workdir, folders):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29541"]
    proc = run_script(
        folders["torch"],
        "--data",
        str(workdir / "small.npz"),
        *ARGS,
        "--epochs",
        "2",
        "--out",
        str(workdir / "ddp"),
        launcher=launcher,
    )
    assert proc.returncode == 0, proc.stdout
    assert "ranks agree: identical weights" in proc.stdout


def test_keras_mirrored_strategy_over_two_cpu_devices(workdir, folders):
    proc = run_script(
        folders["keras"],
        "--data",
        str(workdir / "small.npz"),
        *ARGS,
        "--epochs",
        "2",
        "--strategy",
        "cpu2",
        "--out",
        str(workdir / "mirrored"),
    )
    assert proc.returncode == 0, proc.stdout
    assert "strategy: MirroredStrategy, 2 replicas" in proc.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_an_image_folder_with_labels_csv_trains(workdir, folders, target):
    proc = run_script(
        folders[target],
        "--data",
        str(workdir / "folder"),
        *ARGS,
        "--epochs",
        "1",
        "--flip",
        "0.5",
        "--nme",
        "points",
        "--nme-points",
        "2,3",
        "--split",
        "0.6,0.2,0.2",
        "--out",
        str(workdir / f"csv_{target}"),
    )
    assert proc.returncode == 0, proc.stdout
    assert f"data: {workdir / 'folder'}: 30 examples of 32x32x1; split 18/6/6" in proc.stdout
    assert "normalised by the distance between points 2 and 3" in proc.stdout


def test_a_bad_label_file_stops_with_its_line(workdir, folders):
    labels = workdir / "folder" / "labels.csv"
    lines = labels.read_text().splitlines()
    bad = workdir / "folder" / "bad.csv"
    bad.write_text("\n".join([*lines[:3], "images/0003.png,0.5,0.1,0.3,0.4,0.7,1.25,0.5,0.9", *lines[4:]]) + "\n")
    proc = run_script(folders["torch"], "--data", str(bad), "--epochs", "1", "--out", str(workdir / "bad"))
    assert proc.returncode == 2
    assert f"error: {bad}:4: point 3 (0.7, 1.25) is outside the image" in proc.stdout
    bad.write_text("\n".join([*lines[:2], "images/0001.png,0.5,0.1,0.3,0.4,0.7", *lines[3:]]) + "\n")
    proc = run_script(folders["keras"], "--data", str(bad), "--epochs", "1", "--out", str(workdir / "bad"))
    assert proc.returncode == 2
    assert f"error: {bad}:3: 5 values after the file, the header names 8 (4 points, two each)" in proc.stdout


# The options of examples/landmarks/README.md with 15 epochs instead of 40: the bar is below what 40 epochs
# reach (README) and what 15 reach.
EXAMPLE_OPTIONS = [
    "--optimizer",
    "adam",
    "--lr",
    "0.001",
    "--schedule",
    "cosine",
    "--flip",
    "0.5",
    "--threads",
    "1",
    "--progress",
    "none",
]


@pytest.mark.parametrize("target", TARGETS)
def test_the_example_finds_the_kites_vertices(tmp_path, target):
    make_data = example_module("landmarks")

    data = make_data.main(tmp_path / "kites.npz")
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cnnc",
            "train",
            str(EXAMPLE / "kites.cnn"),
            "--task",
            "landmarks",
            "--target",
            target,
            "--data",
            str(data),
            "--build",
            str(tmp_path / "build"),
            "--epochs",
            "15",
            *EXAMPLE_OPTIONS,
            *(["--init", "torch"] if target == "keras" else []),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stdout
    result = json.loads((tmp_path / "build" / "run" / "metrics.json").read_text())
    assert result["examples"] == 400
    assert result["pck10"] >= 0.6 and result["nme"] <= 0.1, result
    assert seconds < 600, seconds


@pytest.mark.parametrize("target", TARGETS)
def test_compiled_folder_is_lint_clean(folders, target):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--isolated",
            "--line-length",
            "120",
            "--select",
            "E,F,W,I,B,UP",
            "--target-version",
            "py311",
            "train.py",
            "model.py",
            "cnnc_tasks",
        ],
        cwd=folders[target],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout
