"""End to end, --task verify: compile, run the scripts in a fresh process (no cnnc on the path), check what they
did: specs/siamese.cnn trains a few steps in both frameworks, a run resumes to identical weights, DDP and
tf.distribute, a folder per identity, verify.py and recognize.py (with the gallery cache), and the digits
example's bar on identities never seen in training."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from harness_util import ROOT, compile_task, example_module, final_weights, run_script
from PIL import Image

from cnnc.cli import main

pytestmark = pytest.mark.slow
TARGETS = ["torch", "keras"]
EXAMPLE = ROOT / "examples" / "verify"
SPEC = """network Emb(dim: int = 8) {
  input x: 12x12x1
  x -> conv(8, 3, padding=same) as conv1 -> batchnorm as bn1 -> relu -> maxpool(2)
    -> flatten -> dropout(0.1) -> dense(dim) as embedding -> output f
}
"""


def identities(count: int, per: int, size: int, channels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` identities of `per` images: a bright square at each identity's own place, plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 60, size=(count * per, size, size, channels)).astype(np.uint8)
    y = np.repeat(np.arange(count), per)
    for i, who in enumerate(y):
        top, left = divmod(int(who) * 3, size - 4)
        x[i, top % (size - 4) : top % (size - 4) + 4, left : left + 4] += 180
    return x, y


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("verify")
    x, y = identities(8, 8, 12, 1)
    np.savez(root / "small.npz", x=x, identities=y)
    faces, who = identities(6, 6, 32, 3, seed=1)
    np.savez(root / "faces.npz", x=faces, identities=who)
    for i, (image, identity) in enumerate(zip(x[:40], y[:40], strict=True)):  # 5 people, and one alone
        folder = root / "people" / f"person{int(identity)}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[..., 0]).save(folder / f"{i:03d}.png")
    (root / "people" / "loner").mkdir()
    Image.fromarray(x[50, ..., 0]).save(root / "people" / "loner" / "only.png")
    return root


@pytest.fixture(scope="module")
def folders(workdir):
    return {target: compile_task(SPEC, target, workdir / f"emb_{target}", task="verify") for target in TARGETS}


ARGS = [
    "--epochs",
    "3",
    "--optimizer",
    "adam",
    "--lr",
    "0.003",
    "--identities-per-batch",
    "4",
    "--images-per-identity",
    "4",
    "--split",
    "0.5,0.25,0.25",
    "--threads",
    "1",
]


@pytest.mark.parametrize("target", TARGETS)
def test_the_siamese_spec_trains_a_few_steps(workdir, target):
    folder = workdir / f"siamese_{target}"
    assert (
        main(
            [
                "compile",
                str(ROOT / "specs" / "siamese.cnn"),
                "--target",
                target,
                "--task",
                "verify",
                "--input",
                "anchor=32x32x3",
                "--input",
                "other=32x32x3",
                "--set",
                "embedding_dim=16",
                "-o",
                str(folder),
            ]
        )
        == 0
    )
    out = workdir / f"siamese_run_{target}"
    proc = run_script(
        folder,
        "--data",
        str(workdir / "faces.npz"),
        *ARGS,
        "--epochs",
        "2",
        "--identities-per-batch",
        "3",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stdout
    assert "test: 2 identities (0 with one image only), 12 images (never seen in training)" in proc.stdout
    result = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= result["verification"]["auc"] <= 1.0 and result["one_shot"]["gallery"] == 2
    assert all(np.isfinite(v).all() for v in final_weights(out, target).values())
    for name in ("roc.png", "distances.png", "curves.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("target", TARGETS)
def test_training_separates_identities_and_reports(workdir, folders, target):
    out = workdir / f"run_{target}"
    proc = run_script(folders[target], "--data", str(workdir / "small.npz"), *ARGS, "--epochs", "6", "--out", str(out))
    assert proc.returncode == 0, proc.stdout
    result = json.loads((out / "metrics.json").read_text())
    assert result["tau_chosen_on"] == "validation"
    assert result["verification"]["auc"] >= 0.9, result  # bright squares at their own places: easy
    assert "one-shot recognition (gallery of 2, one image per identity)" in proc.stdout
    again = run_script(
        folders[target],
        "--data",
        str(workdir / "small.npz"),
        *ARGS,
        "--eval-only",
        "--weights",
        str(out / ("best.pt" if target == "torch" else "best.weights.h5")),
        "--out",
        str(workdir / "e"),
    )
    assert again.returncode == 0, again.stdout
    assert json.loads((workdir / "e" / "metrics.json").read_text())["verification"] == result["verification"]


@pytest.mark.parametrize("target", TARGETS)
def test_interrupted_run_resumes_to_the_same_weights(workdir, folders, target):
    """P x K batches, augmentation and dropout on: the resumed run redraws what the straight one drew."""
    args = ["--data", str(workdir / "small.npz"), *ARGS, "--shift", "0.1", "--workers", "2", "--formulation", "pair"]
    straight, parts = workdir / f"straight_{target}", workdir / f"parts_{target}"
    assert run_script(folders[target], *args, "--out", str(straight)).returncode == 0
    first = run_script(folders[target], *args, "--out", str(parts), "--stop-after", "2")
    assert first.returncode == 0 and "stopping after 2 epoch(s) of this run" in first.stdout, first.stdout
    second = run_script(folders[target], *args, "--out", str(parts), "--resume")
    assert second.returncode == 0 and "after epoch 2" in second.stdout, second.stdout
    a, b = final_weights(straight, target), final_weights(parts, target)
    assert sorted(a) == sorted(b) and any("pair" in k for k in a)  # the pair head's w and b are weights too
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
def test_a_folder_per_identity_trains_and_counts_the_loner(workdir, folders, target):
    proc = run_script(
        folders[target],
        "--data",
        str(workdir / "people"),
        *ARGS,
        "--epochs",
        "1",
        "--split",
        "0.5,0.17,0.33",
        "--out",
        str(workdir / f"people_{target}"),
    )
    assert proc.returncode == 0, proc.stdout
    assert "1 of 6 identities have one image only (loner)" in proc.stdout


def test_an_empty_identity_folder_stops_with_its_name(workdir, folders):
    (workdir / "people" / "nobody").mkdir()
    try:
        proc = run_script(folders["torch"], "--data", str(workdir / "people"), "--out", str(workdir / "empty"))
    finally:
        (workdir / "people" / "nobody").rmdir()
    assert proc.returncode == 2
    assert "identity folder(s) hold no images: nobody" in proc.stdout


def _use(folder, script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("target", TARGETS)
def test_verify_and_recognize_use_the_trained_encoding(workdir, folders, target):
    out = workdir / f"run_{target}"  # trained by test_training_separates_identities_and_reports
    if not (out / "metrics.json").exists():
        assert (
            run_script(
                folders[target], "--data", str(workdir / "small.npz"), *ARGS, "--epochs", "6", "--out", str(out)
            ).returncode
            == 0
        )
    people = workdir / "people"
    a, b = sorted((people / "person0").iterdir())[:2]
    c = sorted((people / "person3").iterdir())[0]
    same = _use(folders[target], "verify.py", str(a), str(b), "--out", str(out))
    assert same.returncode == 0 and same.stdout.rstrip().endswith("same identity"), same.stdout
    gallery = workdir / f"gallery_{target}"
    gallery.mkdir()
    for name, image in (("ann", a), ("cy", c)):
        (gallery / f"{name}.png").write_bytes(image.read_bytes())
    probe = sorted((people / "person3").iterdir())[3]
    first = _use(folders[target], "recognize.py", "--gallery", str(gallery), str(probe), "--out", str(out))
    assert first.returncode == 0 and f"{probe}: cy (distance" in first.stdout, first.stdout
    (cache,) = out.glob("gallery-*.npz")
    stamp = cache.stat().st_mtime_ns
    strict = _use(
        folders[target], "recognize.py", "--gallery", str(gallery), str(probe), "--out", str(out), "--tau", "-1"
    )
    assert f"{probe}: not recognised" in strict.stdout and cache.stat().st_mtime_ns == stamp  # from the cache


# The options of examples/verify/README.md, with fewer epochs: the bar below is what they reach.
EXAMPLE_OPTIONS = [
    "--optimizer",
    "adam",
    "--lr",
    "0.001",
    "--schedule",
    "cosine",
    "--threads",
    "1",
    "--progress",
    "none",
]


@pytest.mark.parametrize("target", TARGETS)
def test_the_example_verifies_digits_never_seen_in_training(tmp_path, target):
    make_data = example_module("verify")

    data = tmp_path / "digits.npz"
    np.savez(data, **make_data.make())
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cnnc",
            "train",
            str(EXAMPLE / "digits_embedding.cnn"),
            "--task",
            "verify",
            "--target",
            target,
            "--data",
            str(data),
            "--build",
            str(tmp_path / "build"),
            "--epochs",
            "5",
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
    assert result["identities"] == "3 identities (0 with one image only), 533 images"
    assert result["verification"]["auc"] >= 0.7 and result["verification"]["accuracy"] >= 0.6, result
    assert result["one_shot"]["top1"] >= 0.45, result
    assert seconds < 300, seconds
