"""The landmarks task, quick: its plan and diagnostics, its data formats and their errors, points that follow
augmentation (a mirror swaps the left/right pairs), its metrics and loss numbers, and the same loss in
PyTorch, Keras and numpy."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from harness_util import compile_task

from cnnc.cli import main
from cnnc.compiler import analyze
from cnnc.diagnostics import CnncError
from cnnc.tasks.landmarks import plan
from cnnc.tasks.landmarks.runtime import common
from cnnc.tasks.runtime import augment
from cnnc.tasks.runtime.data import DataError

SPEC = """network Points(num_points: int = 3) {
  input x: 16x20x1
  x -> conv(8, 3, padding=same) as conv1 -> relu -> maxpool(2) -> flatten -> dense(2 * num_points) as head
    -> output y
}
"""


def _plan(spec_file, text):
    return plan.plan(analyze(spec_file(text)).graph)


# ---------------------------------------------------------------- the plan


def test_plan_reads_the_head(spec_file):
    assert _plan(spec_file, SPEC) == common.LandmarkHead(output="y", points=3, box=False, size=(16, 20), layer="head")
    boxed = _plan(spec_file, SPEC.replace("dense(2 * num_points)", "dense(2 * num_points + 4)"))
    assert (boxed.points, boxed.box, boxed.width) == (3, True, 10)
    bare = _plan(spec_file, SPEC.replace("num_points: int = 3", "").replace("2 * num_points", "10"))
    assert (bare.points, bare.box) == (5, False)  # without num_points, an even width is points alone


def test_output_width_that_does_not_fit_is_an_error_at_its_line(spec_file):
    with pytest.raises(CnncError) as caught:
        _plan(spec_file, SPEC.replace("dense(2 * num_points)", "dense(7)"))
    (diag,) = caught.value.diagnostics
    assert diag.code == "E0733"
    assert diag.message == (
        "task `landmarks` needs an output of 2 * num_points units (or 2 * num_points + 4 with "
        "the box), output `y` has 7"
    )
    assert diag.notes == ["2 * num_points = 2 * 3 = 6; with the box 2 * 3 + 4 = 10"]
    assert (diag.span.line, diag.span.column) == (4, 8)  # `output y`
    with pytest.raises(CnncError) as caught:
        _plan(spec_file, SPEC.replace("num_points: int = 3", "").replace("2 * num_points", "7"))
    assert caught.value.diagnostics[0].message == (
        "task `landmarks` needs an output of 2N units (N points), output `y` has 7, an odd number"
    )


def test_compile_prints_the_diagnostic_with_a_caret(spec_file, tmp_path, capsys):
    path = spec_file(SPEC.replace("dense(2 * num_points)", "dense(7)"))
    assert main(["compile", str(path), "--target", "keras", "--task", "landmarks", "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "error[E0733]: task `landmarks` needs an output of 2 * num_points units" in err
    assert "    -> output y\n" in err and "       ^" in err


def test_signal_input_softmax_and_two_outputs_are_errors(spec_file):
    text = SPEC.replace("16x20x1", "40x1").replace(
        "dense(2 * num_points) as head\n    -> output y",
        "dense(2 * num_points) as head -> softmax -> output y\n  x -> flatten -> dense(2) -> output z",
    )
    with pytest.raises(CnncError) as caught:
        _plan(spec_file, text)
    assert [d.code for d in caught.value.diagnostics] == ["E0731", "E0732", "E0734"]


def test_the_task_options_reach_the_script(spec_file):
    from cnnc.build import CompileOptions, generate

    given = {"nme": "points", "nme_points": "1,3", "draw": "2"}
    script = generate(analyze(spec_file(SPEC)), CompileOptions("torch", "landmarks", given))["train.py"]
    assert '"nme": "points",' in script and '"nme_points": "1,3",' in script and '"draw": 2,' in script
    assert "    return F.mse_loss(out.float(), y[:, :6])" in script


# ---------------------------------------------------------------- data


def _folder(tmp_path, rows, header="file,l1x,l1y,l2x,l2y", pairs="1 2\n"):
    from PIL import Image

    (tmp_path / "img").mkdir(exist_ok=True)
    for name in ("a.png", "b.png"):
        Image.new("L", (20, 16)).save(tmp_path / "img" / name)
    (tmp_path / "labels.csv").write_text("\n".join([header, *rows]) + "\n")
    (tmp_path / "flip_pairs.txt").write_text(pairs)
    return tmp_path


def test_csv_folder_reads_points_boxes_and_pairs(tmp_path):
    rows = ["img/a.png,0.2,0.3,0.8,0.3,0.5,0.5,0.4,0.6", "img/b.png,0.1,0.1,0.9,0.9,0.5,0.5,0.8,0.8"]
    folder = _folder(tmp_path, rows, header="file,l1x,l1y,l2x,l2y,bx,by,bh,bw")
    reader = common.Reader()
    source = reader.files(folder)
    np.testing.assert_allclose(source.targets[0], [0.2, 0.3, 0.8, 0.3, 0.5, 0.5, 0.4, 0.6, 1.0], rtol=1e-6)
    assert source.paths == [str(folder / "img" / "a.png"), str(folder / "img" / "b.png")]
    assert reader.flip_pairs == [(0, 1)]


@pytest.mark.parametrize(
    "row, message",
    [
        ("img/a.png,0.2,0.3,0.8", "labels.csv:3: 3 values after the file, the header names 4 (2 points, two each)"),
        ("img/a.png,0.2,0.3,1.2,0.3", "labels.csv:3: point 2 (1.2, 0.3) is outside the image"),
        ("img/zzz.png,0.2,0.3,0.8,0.3", "labels.csv:3: image 'img/zzz.png' does not exist"),
        ("img/a.png,0.2,x,0.8,0.3", "labels.csv:3: 0.2, x, 0.8, 0.3 are not all numbers"),
    ],
)
def test_bad_label_rows_name_the_file_and_line(tmp_path, row, message):
    folder = _folder(tmp_path, ["img/b.png,0.1,0.1,0.9,0.9", row])
    with pytest.raises(DataError) as caught:
        common.Reader().files(folder)
    assert f"{folder}/{message}" in str(caught.value)


def test_json_points_of_the_wrong_count_name_the_line(tmp_path):
    _folder(tmp_path, [])
    (tmp_path / "labels.json").write_text(
        '{"flip_pairs": [[1, 2]], "images": [\n'
        ' {"file": "img/a.png", "points": [[0.2, 0.3], [0.8, 0.3]]},\n'
        ' {"file": "img/b.png", "points": [[0.2, 0.3], [0.8, 0.3], [0.5, 0.9]]}\n'
        "]}\n"
    )
    with pytest.raises(DataError) as caught:
        common.Reader().files(tmp_path / "labels.json")
    assert str(caught.value) == f"{tmp_path / 'labels.json'}:3: 3 points, but the data has 2 per image"


def test_npz_points_and_flip_pairs_are_checked(tmp_path):
    reader = common.Reader()
    points = np.array([[[0.1, 0.2], [0.9, 0.2]], [[0.3, 0.4], [0.6, 0.5]]])
    rows = reader.arrays({"points": points, "flip_pairs": np.array([[1, 2]])}, "", 2, tmp_path / "d.npz")
    assert rows.shape == (2, 9) and reader.flip_pairs == [(0, 1)]
    with pytest.raises(DataError, match=r"d.npz: example 1: point 1 \(-0.3, 0.4\) is outside the image"):
        reader.arrays({"points": points * [[[1, 1], [1, 1]], [[-1, 1], [1, 1]]]}, "", 2, tmp_path / "d.npz")
    with pytest.raises(DataError, match=r"flip pair \[1, 3\] must be two point numbers within 1..2"):
        reader.arrays({"points": points, "flip_pairs": np.array([[1, 3]])}, "", 2, tmp_path / "d.npz")


# ---------------------------------------------------------------- augmentation


def test_a_mirror_moves_the_points_and_swaps_the_pairs():
    reader = common.Reader()
    reader.flip_pairs = [(1, 2)]
    target = np.array(common.target_row([[0.5, 0.1], [0.25, 0.5], [0.75, 0.5], [0.5, 0.9]]), np.float32)
    geometry = augment.Geometry.identity((16, 20))
    geometry.flip(1)  # a horizontal mirror: x -> 1 - x
    moved = reader.follow(target, geometry)
    np.testing.assert_allclose(moved[:8], [0.5, 0.1, 0.25, 0.5, 0.75, 0.5, 0.5, 0.9], atol=1e-6)
    target = np.array(common.target_row([[0.5, 0.1], [0.2, 0.5], [0.7, 0.4], [0.5, 0.9]]), np.float32)
    np.testing.assert_allclose(
        reader.follow(target, geometry)[:8], [0.5, 0.1, 0.3, 0.4, 0.8, 0.5, 0.5, 0.9], atol=1e-6
    )  # point 2 is the mirrored point 3


def test_points_follow_a_shift_without_a_swap():
    reader = common.Reader()
    reader.flip_pairs = [(0, 1)]
    target = np.array(common.target_row([[0.25, 0.25], [0.75, 0.5]], box=(0.5, 0.4, 0.5, 0.5)), np.float32)
    geometry = augment.Geometry.identity((16, 20))
    geometry.translate([4, -2])  # 4 rows down, 2 columns left
    moved = reader.follow(target, geometry)
    np.testing.assert_allclose(moved, [0.15, 0.5, 0.65, 0.75, 0.4, 0.65, 0.5, 0.5, 1.0], atol=1e-6)


def test_the_image_and_its_points_move_together():
    image = np.zeros((16, 20, 1), np.float32)
    image[3, 5] = 1.0  # one bright pixel; its centre is at ((5 + 0.5) / 20, (3 + 0.5) / 16)
    target = np.array(common.target_row([[5.5 / 20, 3.5 / 16]]), np.float32)
    moved_image, geometry = augment.Augment(flip=1.0, shift=0.2).apply(image, np.random.default_rng(3))
    x, y = common.Reader().follow(target, geometry)[:2]
    row, col = np.unravel_index(np.argmax(moved_image[..., 0]), (16, 20))
    assert (row, col) == (round(y * 16 - 0.5), round(x * 20 - 0.5))


# ---------------------------------------------------------------- metrics and the loss


def test_metrics_numbers_normalised_by_box_and_by_points():
    # 2 points on a 10x20 (h x w) image; pixel errors: example 1 (0, 2), example 2 (1, 0.5)
    targets = np.array(
        [
            common.target_row([[0.25, 0.2], [0.75, 0.6]]),
            common.target_row([[0.5, 0.5], [0.7, 0.5]], box=(0.5, 0.5, 0.4, 0.5)),
        ]
    )
    out = np.array([[0.25, 0.2, 0.75, 0.8], [0.55, 0.5, 0.7, 0.45]])
    box = common.summary(out, targets, (10, 20), "box")
    # d: sqrt(10 px * 4 px) = 6.3246 (the points' box); sqrt(10 px * 4 px) = 6.3246 (the given box)
    d = np.sqrt(40)
    assert box == pytest.approx(
        {"loss": (0.04 + 0.0025 + 0.0025) / 8, "nme": np.mean([1 / d, 0.75 / d]), "pck05": 0.25, "pck10": 0.5}
    )  # 0.1 d = 0.63 px: errors 0 and 0.5 px
    pairs = common.summary(out, targets, (10, 20), "points", (0, 1))
    # d: the distance between the true points: sqrt(10^2 + 4^2) = 10.770; 4 px
    assert pairs["nme"] == pytest.approx(np.mean([1 / np.sqrt(116), 0.75 / 4]))
    assert pairs["pck10"] == pytest.approx(0.25) and pairs["pck05"] == pytest.approx(0.25)  # only the zero error


_LOSSES = """
import json, sys
import numpy as np
sys.path.insert(0, ".")
import train
blob = np.load(sys.argv[1])
out, y = blob["out"].astype(np.float32), blob["y"].astype(np.float32)
if sys.argv[2] == "torch":
    import torch
    value = float(train.landmark_loss(torch.from_numpy(out), torch.from_numpy(y)))
else:
    value = float(np.mean(np.asarray(train.landmark_loss(y, out))))
print(json.dumps(value))
"""


@pytest.mark.parametrize("box", [False, True])
def test_torch_and_keras_losses_agree_with_each_other_and_numpy(tmp_path, box):
    """A differential test: train.py's loss in both frameworks on the same predictions and targets."""
    spec = SPEC.replace("2 * num_points)", "2 * num_points + 4)") if box else SPEC
    rng = np.random.default_rng(0)
    y = np.array(
        [common.target_row(rng.uniform(0, 1, (3, 2)), (0.5, 0.5, 0.3, 0.4) if box else None) for _ in range(12)],
        np.float32,
    )
    out = rng.normal(0.5, 0.3, (12, 10 if box else 6))
    np.savez(tmp_path / "case.npz", out=out, y=y)
    values = {}
    for target in ("torch", "keras"):
        folder = compile_task(spec, target, tmp_path / f"lm_{target}", task="landmarks")
        (folder / "losses.py").write_text(_LOSSES)
        proc = subprocess.run(
            [sys.executable, "losses.py", str(tmp_path / "case.npz"), target],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=300,
            env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
        )
        assert proc.returncode == 0, proc.stderr
        values[target] = json.loads(proc.stdout.strip().splitlines()[-1])
    reference = common.loss(out.astype(np.float32), y)
    assert reference == pytest.approx(np.mean((out.astype(np.float32) - y[:, : out.shape[1]]) ** 2))
    assert values["torch"] == pytest.approx(reference, rel=1e-5)
    assert values["keras"] == pytest.approx(reference, rel=1e-5)
