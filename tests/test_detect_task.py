"""The detect task at compile time: the head it reads from the grid output, its diagnostics, and the files
`cnnc compile --task detect` writes for both frameworks (the library's yolo.cnn too); one training step of
yolo.cnn at a reduced input size in each framework (slow)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from harness_util import ROOT, run_script

from cnnc.cli import main
from cnnc.compiler import analyze
from cnnc.diagnostics import CnncError
from cnnc.tasks.detect import plan
from cnnc.tasks.detect.runtime.common import DetectHead

SPEC = """network Det(num_classes: int = 3, anchors: int = 2) {
  input x: 32x32x1
  x -> conv(8, 3, padding=same) -> relu -> maxpool(2) -> conv(16, 3, padding=same) -> relu -> maxpool(2)
    -> conv(anchors * (5 + num_classes), 1) as detector -> output y
}
"""


def _plan(spec_file, text):
    return plan.plan(analyze(spec_file(text)).graph)


def _diagnostic(spec_file, text):
    with pytest.raises(CnncError) as caught:
        _plan(spec_file, text)
    (diag,) = caught.value.diagnostics
    return diag


def test_plan_reads_the_grid_anchors_and_classes(spec_file):
    assert _plan(spec_file, SPEC) == DetectHead(output="y", grid=(8, 8), anchors=2, classes=3, layer="detector")
    one = SPEC.replace(", anchors: int = 2", "").replace("anchors * (5 + num_classes)", "24")
    assert _plan(spec_file, one).anchors == 3  # 24 = 3 x (5 + 3)


def test_yolo_from_the_library_is_19x19_of_5_anchors_and_80_classes():
    head = plan.plan(analyze(ROOT / "specs" / "yolo.cnn").graph)
    assert head == DetectHead(output="y", grid=(19, 19), anchors=5, classes=80, layer="detector")


def test_channels_that_are_not_anchors_times_5_plus_classes_are_an_error_with_the_arithmetic(spec_file):
    diag = _diagnostic(spec_file, SPEC.replace("conv(anchors * (5 + num_classes), 1)", "conv(15, 1)"))
    assert diag.code == "E0723"
    assert diag.message == "output `y` has 15 channels, not anchors x (5 + classes)"
    assert diag.notes[0] == "anchors * (5 + num_classes) = 2 * (5 + 3) = 16"
    assert (diag.span.line, diag.span.column) == (4, 35)  # `output y`


def test_a_flat_output_an_activation_and_unknown_splits_are_errors(spec_file):
    flat = SPEC.replace("-> output y", "-> flatten -> output y")
    assert (
        _diagnostic(spec_file, flat).message == "task `detect` needs a grid output S x S x A(5 + C), output `y` is 1024"
    )
    act = SPEC.replace("as detector -> output y", "as detector -> sigmoid -> output y")
    diag = _diagnostic(spec_file, act)
    assert (diag.code, diag.message, diag.help) == (
        "E0724",
        "the grid output `y` ends in `sigmoid`",
        "remove the `sigmoid` before the output",
    )
    bare = SPEC.replace("num_classes: int = 3, anchors: int = 2", "").replace("anchors * (5 + num_classes)", "16")
    diag = _diagnostic(spec_file, bare)
    assert (diag.code, diag.message) == ("E0725", "cannot tell the anchors and classes of output `y` (16 channels)")


def test_compile_prints_the_diagnostic_with_a_caret(spec_file, tmp_path, capsys):
    path = spec_file(SPEC.replace("as detector -> output y", "as detector -> softmax -> output y"))
    assert main(["compile", str(path), "--target", "torch", "--task", "detect", "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "error[E0724]: the grid output `y` ends in `softmax`" in err and "^" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("target", ["torch", "keras"])
def test_yolo_compiles_with_the_detect_harness_and_the_script_is_ruff_clean(tmp_path, target):
    out = tmp_path / target
    assert (
        main(["compile", str(ROOT / "specs" / "yolo.cnn"), "--target", target, "--task", "detect", "-o", str(out)]) == 0
    )
    script = (out / "train.py").read_text()
    assert 'HEAD = DetectHead(output="y", grid=(19, 19), anchors=5, classes=80, layer="detector")' in script
    assert '"anchors": "auto",' in script and '"monitor": "val_map50",' in script
    runtime = sorted(p.name for p in (out / "cnnc_tasks" / "detect" / "runtime").iterdir())
    other = "keras.py" if target == "torch" else "torch.py"
    assert f"{target}.py" in runtime and other not in runtime and "yolo.py" in runtime
    # in a compiled folder cnnc_tasks/ and model.py sit beside train.py: first party, as ruff finds them there
    first_party = 'lint.isort.known-first-party = ["cnnc_tasks", "model"]'
    config = ["--no-cache", "--config", str(ROOT / "pyproject.toml"), "--config", first_party]
    for verb in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *verb, *config, str(out / "train.py")], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def _tiny_npz(path, size: int, classes: int = 80, count: int = 8):
    rng = np.random.default_rng(0)
    boxes = np.zeros((count, 3, 5))
    boxes[..., 0] = -1
    for i in range(count):
        for k in range(1 + i % 3):
            w, h = rng.uniform(0.1, 0.5, 2)
            boxes[i, k] = [rng.integers(classes), *rng.uniform([w / 2, h / 2], [1 - w / 2, 1 - h / 2]), w, h]
    x = rng.integers(0, 255, (count, size, size, 3), dtype=np.uint8)
    np.savez(path, x=x, boxes=boxes, class_names=np.array([f"c{i}" for i in range(classes)]))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("target", ["torch", "keras"])
def test_one_training_step_of_yolo_at_64x64(tmp_path, target):
    """YOLOv2 (50,983,561 parameters) at 64x64 input (a 2x2 grid): one step on 4 images, then the test."""
    out = tmp_path / "yolo"
    assert (
        main(
            [
                "compile",
                str(ROOT / "specs" / "yolo.cnn"),
                "--target",
                target,
                "--task",
                "detect",
                "--input",
                "64x64x3",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    data = _tiny_npz(tmp_path / "tiny.npz", 64)
    proc = run_script(
        out,
        "--data",
        str(data),
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--split",
        "0.5,0.25,0.25",
        "--draw",
        "1",
        "--table-every",
        "0",
        "--out",
        str(tmp_path / "run"),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout
    assert "split 4/2/2 (train/val/test)" in proc.stdout
    assert "epoch 1/1 | loss " in proc.stdout and " box " in proc.stdout and " noobj " in proc.stdout
    assert (tmp_path / "run" / "test_results.json").exists() and (tmp_path / "run" / "detections" / "0000.png").exists()
