"""A compiled train.py never ends in a traceback or a garbage model (issue 18), in both frameworks.

Divergence stops with exit 3 naming the last good checkpoint (whose weights are finite); corrupt
checkpoints, weights and data files stop with exit 2 and one line naming the file.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from harness_util import SMALL, bands, bands_folder, bands_npz, compile_task, final_weights, run_script

pytestmark = pytest.mark.slow
TARGETS = ["torch", "keras"]
LAST = {"torch": "last.pt", "keras": "last.npz"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("robust")
    bands_npz(root / "bands.npz", n=96)
    x, y = bands(n=96)
    x[::2, 3, 3] = np.nan  # a NaN pixel in every other example: every batch's loss is NaN
    np.savez(root / "nan.npz", x=x, y=y)
    np.savez(root / "strings.npz", x=x, y=np.array(["a", "b"] * 48))
    np.savez(root / "halves.npz", x=x, y=(y + 0.5))
    np.savez(root / "huge.npz", x=x, y=np.where(y == 3, 20_000_000, y))
    np.savez(root / "one.npz", x=x, y=np.zeros_like(y))
    return root


@pytest.fixture(scope="module")
def folders(workdir):
    return {target: compile_task(SMALL, target, workdir / f"small_{target}") for target in TARGETS}


@pytest.fixture(scope="module")
def one_epoch(workdir, folders):
    """A first good epoch per framework: the last good checkpoint of the runs that diverge later."""
    runs = {}
    for target in TARGETS:
        out = workdir / f"good_{target}"
        proc = run_script(folders[target], "--data", str(workdir / "bands.npz"), "--epochs", "1", "--out", str(out))
        assert proc.returncode == 0, proc.stdout
        runs[target] = out
    return runs


def _one_error_line(proc, pattern: str) -> str:
    assert "Traceback" not in proc.stdout, proc.stdout
    lines = [line for line in proc.stdout.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and re.search(pattern, lines[0]), proc.stdout
    return lines[0]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("cause", ["lr", "nan inputs"])
def test_divergence_in_the_first_epoch_of_a_run_stops_with_exit_3(workdir, folders, one_epoch, target, cause):
    out = workdir / f"diverge_{target}_{cause.replace(' ', '_')}"
    out.mkdir()
    for name in (LAST[target], "best.pt" if target == "torch" else "best.weights.h5"):
        (out / name).write_bytes((one_epoch[target] / name).read_bytes())
    before = {k: v.copy() for k, v in final_weights(out, target).items()}
    args = ["--lr", "1e25"] if cause == "lr" else ["--data", str(workdir / "nan.npz")]
    args = ["--data", str(workdir / "bands.npz"), *args] if cause == "lr" else args
    proc = run_script(folders[target], *args, "--epochs", "3", "--resume", "--out", str(out))
    assert proc.returncode == 3, proc.stdout
    last = out / LAST[target]
    stopped = re.search(r"error: training stopped at epoch 2, step (\d+): the loss (is not a number|is infinite|"
                        r"exploded past 100 times its start).*; the last good checkpoint is (\S+) \(epoch 1\)",
                        proc.stdout)
    assert stopped and stopped[3] == str(last), proc.stdout
    assert "Traceback" not in proc.stdout
    after = final_weights(out, target)
    assert all(np.isfinite(w).all() for w in after.values())
    assert all(np.array_equal(before[k], after[k]) for k in before)  # the checkpoint is the good epoch's


@pytest.mark.parametrize("target", TARGETS)
def test_nan_inputs_from_the_start_stop_with_exit_3_and_save_nothing(workdir, folders, target):
    out = workdir / f"nan_fresh_{target}"
    proc = run_script(folders[target], "--data", str(workdir / "nan.npz"), "--epochs", "2", "--out", str(out))
    assert proc.returncode == 3, proc.stdout
    assert re.search(r"error: training stopped at epoch 1, step 1: the loss is not a number \(nan\); no checkpoint "
                     r"was saved", proc.stdout), proc.stdout
    assert not (out / LAST[target]).exists()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("damage", ["garbage", "truncated", "another spec"])
def test_a_corrupt_resume_checkpoint_is_one_line_and_exit_2(workdir, folders, one_epoch, target, damage):
    out = workdir / f"corrupt_{target}_{damage.replace(' ', '_')}"
    out.mkdir()
    good = (one_epoch[target] / LAST[target]).read_bytes()
    last = out / LAST[target]
    if damage == "garbage":
        last.write_bytes(b"not a checkpoint at all")
    elif damage == "truncated":
        last.write_bytes(good[: len(good) // 2])
    else:
        other = compile_task(SMALL.replace("conv(8, 3", "conv(6, 3"), target, workdir / f"other_{target}_{damage[:3]}")
        other_out = workdir / f"other_run_{target}"
        if not (other_out / LAST[target]).exists():
            proc = run_script(other, "--data", str(workdir / "bands.npz"), "--epochs", "1", "--out", str(other_out))
            assert proc.returncode == 0, proc.stdout
        last.write_bytes((other_out / LAST[target]).read_bytes())
    proc = run_script(folders[target], "--data", str(workdir / "bands.npz"), "--epochs", "2", "--resume",
                      "--out", str(out))
    assert proc.returncode == 2, proc.stdout
    _one_error_line(proc, rf"^error: cannot resume from {re.escape(str(last))}: .*\(delete it to start over\)$")


@pytest.mark.parametrize("target", TARGETS)
def test_a_corrupt_weights_file_is_one_line_and_exit_2(workdir, folders, one_epoch, target):
    name = "best.pt" if target == "torch" else "best.weights.h5"
    good = (one_epoch[target] / name).read_bytes()
    broken = workdir / f"truncated_{target}_{name}"
    broken.write_bytes(good[: len(good) // 2])
    proc = run_script(folders[target], "--data", str(workdir / "bands.npz"), "--epochs", "1", "--weights",
                      str(broken), "--out", str(workdir / f"w_{target}"))
    assert proc.returncode == 2, proc.stdout
    _one_error_line(proc, rf"^error: cannot read weights {re.escape(str(broken))}: ")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ("strings.npz", r"strings\.npz: labels must be class indices 0\.\.K-1 \(or one-hot rows\), found str\d* "),
        ("halves.npz", r"halves\.npz: labels must be class indices .*: 96 of 96 are not whole numbers \(first: 0\.5\)"),
        ("huge.npz", r"huge\.npz: a label of 20,000,000 asks for a head of 20,000,001 classes \(at most 100,000\)"),
        ("one.npz", r"the data has 1 class\(es\): a classifier needs examples of at least two"),
    ],
)
def test_bad_labels_are_one_line_and_exit_2(workdir, folders, target, data, pattern):
    proc = run_script(folders[target], "--data", str(workdir / data), "--epochs", "1",
                      "--out", str(workdir / f"labels_{target}_{data}"))
    assert proc.returncode == 2, proc.stdout
    _one_error_line(proc, pattern)


def _broken_jpeg(path) -> None:
    """A JPEG whose header verifies but whose compressed data ends early."""
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(path, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])


@pytest.mark.parametrize("target", TARGETS)
def test_skip_corrupt_skips_broken_compressed_data_and_drops_an_emptied_class(workdir, folders, target):
    from PIL import Image

    root = bands_folder(workdir / f"images_{target}", per_class=8, size=20, classes=3)
    (root / "zeta").mkdir()
    for i in range(2):
        _broken_jpeg(root / "zeta" / f"{i}.jpg")
    with Image.open(root / "zeta" / "0.jpg") as image:
        image.verify()  # what the old check did: it passes
    proc = run_script(folders[target], "--data", str(root), "--epochs", "1", "--out", str(workdir / f"sk_{target}"))
    assert proc.returncode == 2, proc.stdout
    assert f"error: 2 unreadable image file(s):\n  {root / 'zeta' / '0.jpg'}: image file is truncated" in proc.stdout
    proc = run_script(folders[target], "--data", str(root), "--epochs", "1", "--skip-corrupt",
                      "--out", str(workdir / f"sk_{target}"))
    assert proc.returncode == 0, proc.stdout
    assert "left out 2 unreadable file(s)" in proc.stdout
    assert "dropped 1 class(es) with no example left: zeta" in proc.stdout
    assert "3 classes" in proc.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_ctrl_c_ends_cnnc_train_with_one_line_its_files_whole_and_a_resume_that_works(workdir, target):
    """Ctrl-C reaches `cnnc train` and its train.py (one process group): the script writes the curves and one
    line and ends with 130; the command waits for it (it used to kill it a quarter second later), says how to go
    on, and --resume continues from the last finished epoch."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    spec = workdir / "small.cnn"
    spec.write_text(SMALL, encoding="utf-8")
    build = workdir / f"interrupted_{target}"
    command = [sys.executable, "-m", "cnnc", "train", str(spec), "--target", target, "--build", str(build),
               "--data", str(workdir / "bands.npz"), "--epochs", "500", "--progress", "none", "--threads", "1"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    log = build / "run" / "log.csv"
    deadline = time.monotonic() + 240
    while not (log.exists() and len(log.read_text().splitlines()) >= 3) and time.monotonic() < deadline:
        time.sleep(0.2)  # two finished epochs
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "Traceback" not in out, out
    assert re.search(r"^interrupted in epoch \d+: the last good checkpoint is .*/run/last\.(pt|npz) \(epoch \d+\), "
                     r"the best weights .*; --resume goes on from there$", out, re.M), out
    assert f"continue with: cd {build} && python train.py --resume" in out, out
    assert (build / "run" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    epochs = len(log.read_text().splitlines()) - 1
    resumed = run_script(build, "--resume", "--epochs", str(epochs + 1))
    assert resumed.returncode == 0, resumed.stdout
    assert f"resumed from {build / 'run' / LAST[target]} after epoch {epochs}" in resumed.stdout
