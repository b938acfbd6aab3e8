"""`--task segment` at compile time: the head read from the spec, the diagnostics at the output's line,
and the written train.py."""

from __future__ import annotations

import pytest
from conftest import SPECS
from harness_util import compile_task

from cnnc.cli import main
from cnnc.compiler import analyze
from cnnc.diagnostics import CnncError
from cnnc.tasks.segment import plan
from cnnc.tasks.segment.runtime.common import SegmentHead

SPEC = """network Seg(num_classes: int = 3) {
  input x: 16x16x1
  x -> conv(8, 3, padding=same) as conv1 -> relu -> conv(num_classes, 1) as head
    -> output y
}
"""


def _plan(spec_file, text):
    return plan.plan(analyze(spec_file(text)).graph)


def _error(spec_file, text):
    with pytest.raises(CnncError) as caught:
        _plan(spec_file, text)
    (diag,) = caught.value.diagnostics
    return diag


def test_plan_reads_the_head(spec_file):
    head = _plan(spec_file, SPEC)
    assert head == SegmentHead(
        output="y", channels=3, classes=3, activation="linear", input_size=(16, 16), output_size=(16, 16), layer="head"
    )
    soft = _plan(spec_file, SPEC.replace("as head\n", "as head -> softmax\n"))
    assert soft.activation == "softmax" and soft.layer == "head"
    binary = _plan(spec_file, SPEC.replace("conv(num_classes, 1) as head", "conv(1, 1) as head -> sigmoid"))
    assert (binary.channels, binary.classes, binary.activation) == (1, 2, "sigmoid")


def test_the_paper_unet_is_a_cropped_head():
    head = plan.plan(analyze(SPECS / "unet.cnn").graph)
    assert (head.input_size, head.output_size, head.channels, head.activation) == ((572, 572), (388, 388), 2, "linear")


def test_3d_volumes(spec_file):
    text = SPEC.replace("16x16x1", "8x8x8x1")
    head = _plan(spec_file, text)
    assert head.input_size == (8, 8, 8) and head.output_size == (8, 8, 8)


def test_a_vector_output_is_an_error_at_its_line(spec_file):
    diag = _error(spec_file, SPEC.replace("as head\n", "as head -> global_avgpool\n"))
    assert diag.code == "E0743"
    assert diag.message == "task `segment` needs a class map over the input's 16x16, output `y` is 3"
    assert (diag.span.line, diag.span.column) == (4, 8)  # `output y`


def test_a_map_larger_than_the_input(spec_file):
    diag = _error(spec_file, SPEC.replace("as head\n", "as head -> upsample(2)\n"))
    assert diag.code == "E0743" and diag.message == "output `y` (32x32x3) is larger than the input (16x16) on axis 0"


@pytest.mark.parametrize(
    "change,message",
    [
        (("conv(num_classes, 1) as head", "conv(1, 1) as head -> softmax"), "a softmax over one channel is always 1"),
        (
            ("as head\n", "as head -> sigmoid\n"),
            "a sigmoid over 3 channels scores each class on its own; one class per pixel is a softmax",
        ),
        (("as head\n", "as head -> relu\n"), "output `y` ends in `relu`, not in class scores"),
    ],
    ids=["softmax-1", "sigmoid-3", "relu"],
)
def test_what_the_last_op_does_to_the_channels(spec_file, change, message):
    diag = _error(spec_file, SPEC.replace(*change))
    assert (diag.code, diag.message) == ("E0744", message)


def test_an_input_that_is_no_image(spec_file):
    text = SPEC.replace("16x16x1", "16x1")
    with pytest.raises(CnncError) as caught:
        _plan(spec_file, text)
    assert [d.code for d in caught.value.diagnostics] == ["E0741"]
    assert caught.value.diagnostics[0].message == (
        "task `segment` needs one image or volume input (H x W x C or D x H x W x C)"
    )


def test_two_outputs(spec_file):
    text = SPEC.replace("    -> output y\n", "    -> output y\n  x -> conv(3, 1) -> output z\n")
    diag = _error(spec_file, text)
    assert diag.code == "E0742" and diag.message == "task `segment` trains one output, the network has 2"


def test_compile_prints_the_diagnostic_with_a_caret(spec_file, tmp_path, capsys):
    path = spec_file(SPEC.replace("as head\n", "as head -> relu\n"))
    assert main(["compile", str(path), "--target", "torch", "--task", "segment", "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "error[E0744]: output `y` ends in `relu`, not in class scores" in err
    assert "    -> output y\n" in err and "^" in err


@pytest.mark.parametrize("target", ["torch", "keras"])
def test_train_py_shows_the_step_and_the_crop(tmp_path, target):
    folder = compile_task((SPECS / "unet.cnn").read_text(), target, tmp_path / "u", task="segment")
    source = (folder / "train.py").read_text()
    layout = "N x 2 x 388x388" if target == "torch" else "N x 388x388 x 2"
    assert f"# out: {layout}, class logits (the softmax is taken in the loss) per pixel" in source
    assert "the map is the centre 388x388 of the 572x572 input (valid convolutions)" in source
    assert "task.segment_loss(" in source
    copied = sorted(p.name for p in (folder / "cnnc_tasks" / "segment" / "runtime").glob("*.py"))
    other = "keras.py" if target == "torch" else "torch.py"
    assert other not in copied and f"{target}.py" in copied and "tiles.py" in copied


@pytest.mark.parametrize("target", ["torch", "keras"])
def test_the_compiled_folder_is_lint_clean_on_its_own(tmp_path, target):
    """As a person's copy is linted in that folder: ruff with bugbear (zip strictness included) and isort (the
    folder's own modules first-party), and train.py formatted."""
    import subprocess
    import sys

    folder = compile_task((SPECS / "unet.cnn").read_text(), target, tmp_path / "u", task="segment")
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
            "cnnc_tasks/segment",
        ],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--isolated", "--line-length", "120", "train.py"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert formatted.returncode == 0, formatted.stdout
