"""End to end, --task segment: compile, run the script in a fresh process (no cnnc on the path), check what it
did: the report, the mIoU recomputed from the written PNGs, resume to identical weights, DDP and
tf.distribute, a small 3D U-Net on generated volumes, and the paper's valid-convolution U-Net at a reduced
size with an overlap-tile prediction of a whole image."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import SPECS
from harness_util import ROOT, compile_task, example_module, final_weights, run_script
from PIL import Image

from cnnc.cli import main

pytestmark = pytest.mark.slow
TARGETS = ["torch", "keras"]
SPEC = """network TinySeg(num_classes: int = 3) {
  input x: 24x24x1
  a = x -> conv(8, 3, padding=same) as conv1 -> batchnorm as bn1 -> relu
  b = a -> maxpool(2) -> conv(16, 3, padding=same) as conv2 -> relu -> dropout(0.1)
    -> conv_transpose(8, 2, stride=2) as up
  concat(a, b) -> conv(num_classes, 1) as head -> softmax -> output y
}
"""
SPEC_3D = """network Tiny3D(num_classes: int = 2) {
  input x: 12x12x12x1
  a = x -> conv(4, 3, padding=same) as conv1 -> relu
  b = a -> maxpool(2) -> conv(8, 3, padding=same) as conv2 -> relu -> conv_transpose(4, 2, stride=2) as up
  concat(a, b) -> conv(num_classes, 1) as head -> output y
}
"""


def shapes(n: int, size: int, seed: int = 0):
    """Images with a bright square (class 1) or a disc (class 2) on noise; masks with 255 on the border."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    x = rng.normal(40, 15, (n, size, size))
    masks = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        r, c, half = *rng.integers(6, size - 6, 2), int(rng.integers(3, 6))
        inside = (
            (np.abs(rows - r) <= half) & (np.abs(cols - c) <= half)
            if i % 2
            else (rows - r) ** 2 + (cols - c) ** 2 <= half**2
        )
        masks[i][inside] = 1 if i % 2 else 2
        x[i][inside] += 150
    masks[:, 0, :] = 255  # an unlabelled row, as VOC's borders
    return np.clip(x, 0, 255).astype(np.uint8), masks


def write_folder(root, x, masks):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i, (image, mask) in enumerate(zip(x, masks)):
        Image.fromarray(image).save(root / "images" / f"{i:03d}.png")
        Image.fromarray(mask).save(root / "masks" / f"{i:03d}.png")
    (root / "classes.txt").write_text("background 0 0 0\nsquare 200 0 0\ndisc 0 0 200\n")
    return root


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("segment")
    write_folder(root / "shapes", *shapes(60, 24))
    rng = np.random.default_rng(1)
    grid = np.stack(np.mgrid[:12, :12, :12], -1)
    centres, radii = rng.integers(3, 9, (24, 3)), rng.integers(2, 4, 24)
    inside = np.stack([((grid - c) ** 2).sum(-1) <= r * r for c, r in zip(centres, radii)])
    volumes = (rng.normal(0.2, 0.1, inside.shape) + inside).astype(np.float32)
    np.savez(root / "volumes.npz", x=volumes, masks=inside.astype(np.uint8))
    return root


@pytest.fixture(scope="module")
def folders(workdir):
    return {target: compile_task(SPEC, target, workdir / f"seg_{target}", task="segment") for target in TARGETS}


ARGS = ["--epochs", "3", "--optimizer", "adam", "--lr", "0.01", "--batch-size", "8", "--draw", "3"]


def _independent_miou(predicted_dir, masks_dir, classes: int) -> float:
    """Mean IoU over the classes present in the truth or the prediction, from the PNG files alone (sklearn's
    confusion matrix; the ignore index 255 left out)."""
    from sklearn.metrics import confusion_matrix

    truth, guess = [], []
    for path in sorted(predicted_dir.glob("*.png")):
        true = np.asarray(Image.open(masks_dir / path.name)).reshape(-1)
        keep = true != 255
        truth.append(true[keep])
        guess.append(np.asarray(Image.open(path)).reshape(-1)[keep])
    matrix = confusion_matrix(np.concatenate(truth), np.concatenate(guess), labels=list(range(classes)))
    union = matrix.sum(0) + matrix.sum(1) - np.diag(matrix)
    return float(np.mean(np.diag(matrix)[union > 0] / union[union > 0]))


@pytest.mark.parametrize("target", TARGETS)
def test_training_reports_and_the_written_masks_give_the_same_miou(workdir, folders, target):
    out = workdir / f"run_{target}"
    proc = run_script(folders[target], "--data", str(workdir / "shapes"), *ARGS, "--out", str(out))
    assert proc.returncode == 0, proc.stdout
    result = json.loads((out / "metrics.json").read_text())
    assert result["examples"] == 12 and result["class_names"] == ["background", "square", "disc"]
    assert result["miou"] >= 0.5, result
    written = sorted(p.name for p in (out / "test_masks").glob("*.png"))
    assert len(written) == 12
    assert _independent_miou(out / "test_masks", workdir / "shapes" / "masks", 3) == pytest.approx(
        result["miou"], abs=1e-12
    )
    assert "pixel accuracy" in proc.stdout and "absent from both" in proc.stdout
    assert (out / "predictions.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("target", TARGETS)
def test_interrupted_run_resumes_to_the_same_weights(workdir, folders, target):
    """Augmentation that moves the masks (flips, shifts) and dropout on: the resumed run redraws the same."""
    args = [
        "--data",
        str(workdir / "shapes"),
        *ARGS,
        "--flip",
        "0.5",
        "--shift",
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
    assert sorted(a) == sorted(b) and [k for k in a if not np.array_equal(a[k], b[k])] == []


def test_torchrun_two_processes_end_with_identical_weights(workdir, folders):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29541"]
    proc = run_script(
        folders["torch"],
        "--data",
        str(workdir / "shapes"),
        *ARGS,
        "--epochs",
        "1",
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
        str(workdir / "shapes"),
        *ARGS,
        "--epochs",
        "1",
        "--strategy",
        "cpu2",
        "--out",
        str(workdir / "mirrored"),
    )
    assert proc.returncode == 0, proc.stdout
    assert "strategy: MirroredStrategy, 2 replicas" in proc.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_a_small_3d_unet_trains_on_volumes(workdir, target):
    folder = compile_task(SPEC_3D, target, workdir / f"u3d_{target}", task="segment")
    out = workdir / f"run3d_{target}"
    proc = run_script(
        folder,
        "--data",
        str(workdir / "volumes.npz"),
        "--epochs",
        "4",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--batch-size",
        "4",
        "--loss",
        "ce+dice",
        "--flip-axes",
        "0.5",
        "--split",
        "0.5,0.25,0.25",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stdout
    assert "24 examples of 12x12x12x1, 2 classes" in proc.stdout
    losses = [float(line.split("| loss ")[1].split()[0]) for line in proc.stdout.splitlines() if "| loss " in line]
    assert len(losses) == 4 and losses[-1] < losses[0], proc.stdout
    result = json.loads((out / "metrics.json").read_text())
    assert result["examples"] == 6 and len(result["iou"]) == 2


@pytest.mark.parametrize("target", TARGETS)
def test_the_paper_unet_at_a_reduced_size_trains_and_labels_whole_images(workdir, target):
    """specs/unet.cnn (valid convolutions) at 252x252 gives a 68x68 map: a training step on the masks' centres,
    then --predict labels every pixel of a 150x100 image by overlap-tile (2 x 3 tiles)."""
    folder = workdir / f"unet_{target}"
    assert (
        main(
            [
                "compile",
                str(SPECS / "unet.cnn"),
                "--target",
                target,
                "--task",
                "segment",
                "--input",
                "252x252x1",
                "-o",
                str(folder),
            ]
        )
        == 0
    )
    x, masks = shapes(4, 252, seed=2)
    write_folder(workdir / f"big_{target}", x, np.where(masks == 255, 255, (masks > 0).astype(np.uint8)))
    (workdir / f"big_{target}" / "classes.txt").write_text("background\nshape\n")
    photos = workdir / f"photos_{target}"
    photos.mkdir()
    Image.fromarray(shapes(1, 150, seed=3)[0][0][:, :100]).save(photos / "whole.png")
    out = workdir / f"unet_run_{target}"
    data = str(workdir / f"big_{target}")
    proc = run_script(
        folder,
        "--data",
        data,
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--split",
        "0.5,0.25,0.25",
        "--optimizer",
        "adam",
        "--lr",
        "0.0001",
        "--draw",
        "1",
        "--out",
        str(out),
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout
    best = out / ("best.pt" if target == "torch" else "best.weights.h5")
    proc = run_script(
        folder,
        "--data",
        data,
        "--split",
        "0.5,0.25,0.25",
        "--weights",
        str(best),
        "--predict",
        str(photos),
        "--out",
        str(out),
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout
    (written,) = (out / "test_masks").glob("*.png")  # the one test image: the centre of 252
    assert np.asarray(Image.open(written)).shape == (68, 68)
    labelled = np.asarray(Image.open(out / "predicted" / "whole.png"))
    assert labelled.shape == (150, 100) and set(np.unique(labelled)) <= {0, 1}
    assert Image.open(out / "predicted" / "whole_overlay.png").size == (100, 150)


# The command of examples/segment/README.md: the acceptance bar is mean IoU >= 0.6 in under 10 minutes.
EXAMPLE = ROOT / "examples" / "segment"
EXAMPLE_OPTIONS = [
    "--epochs",
    "10",
    "--optimizer",
    "adam",
    "--lr",
    "0.003",
    "--schedule",
    "cosine",
    "--normalize",
    "standardize",
    "--threads",
    "1",
    "--progress",
    "none",
]


@pytest.mark.parametrize("target", TARGETS)
def test_the_example_segments_real_digits(tmp_path, target):
    make_data = example_module("segment")

    data = make_data.main(["--out", str(tmp_path / "canvas.npz")])
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cnnc",
            "train",
            str(EXAMPLE / "unet_small.cnn"),
            "--task",
            "segment",
            "--target",
            target,
            "--data",
            str(data),
            "--build",
            str(tmp_path / "build"),
            *EXAMPLE_OPTIONS,
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
    assert result["examples"] == 359 and len(result["iou"]) == 11
    assert result["miou"] >= 0.6, result
    assert seconds < 600, seconds
