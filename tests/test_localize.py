"""The localize task, quick: its plan and diagnostics, its data formats and their errors, boxes that follow
augmentation, its metrics and loss numbers, and the same loss in PyTorch, Keras and numpy."""

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
from cnnc.tasks.localize import plan
from cnnc.tasks.localize.runtime import common
from cnnc.tasks.runtime import augment, data

SPEC = """network Loc(num_classes: int = 3) {
  input x: 16x16x1
  x -> conv(8, 3, padding=same) as conv1 -> relu -> maxpool(2) -> flatten -> dense(5 + num_classes) as head
    -> output y
}
"""


def _plan(spec_file, text):
    return plan.plan(analyze(spec_file(text)).graph)


# ---------------------------------------------------------------- the plan

def test_plan_reads_the_head(spec_file):
    head = _plan(spec_file, SPEC)
    assert head == common.LocalizeHead(output="y", classes=3, activation="linear", layer="head")
    sigmoid = _plan(spec_file, SPEC.replace("as head\n    -> output y", "as head -> sigmoid -> output y"))
    assert sigmoid.activation == "sigmoid"


def test_output_width_that_is_not_5_plus_k_is_an_error_at_its_line(spec_file):
    with pytest.raises(CnncError) as caught:
        _plan(spec_file, SPEC.replace("dense(5 + num_classes)", "dense(num_classes)"))
    (diag,) = caught.value.diagnostics
    assert diag.code == "E0713"
    assert diag.message == "task `localize` needs an output of 5 + K units, output `y` is 3"
    assert (diag.span.line, diag.span.column) == (4, 8)  # `output y`
    with pytest.raises(CnncError) as caught:
        _plan(spec_file, SPEC.replace("dense(5 + num_classes)", "dense(9)"))
    (diag,) = caught.value.diagnostics
    assert diag.message == "task `localize` needs an output of 5 + num_classes units, output `y` has 9"
    assert diag.notes == ["5 + num_classes = 5 + 3 = 8"]


def test_compile_prints_the_diagnostic_with_a_caret(spec_file, tmp_path, capsys):
    path = spec_file(SPEC.replace("dense(5 + num_classes)", "dense(num_classes)"))
    assert main(["compile", str(path), "--target", "torch", "--task", "localize", "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "error[E0713]: task `localize` needs an output of 5 + K units, output `y` is 3" in err
    assert "    -> output y\n" in err and "^" in err


def test_softmax_over_the_whole_output_is_refused(spec_file):
    with pytest.raises(CnncError) as caught:
        _plan(spec_file, SPEC.replace("as head\n    -> output y", "as head -> softmax -> output y"))
    assert [d.code for d in caught.value.diagnostics] == ["E0714"]


def test_the_task_options_reach_cnnc_train_and_the_script(spec_file):
    from cnnc.build import CompileOptions, generate
    from cnnc.cli import build_parser
    from cnnc.cli.task_options import task_overrides

    args = build_parser("train").parse_args(["train", "s.cnn", "--target", "torch", "--task", "localize", "--loss",
                                             "logistic", "--draw", "3", "--monitor", "val_iou"])
    given = task_overrides(args)
    assert (given["loss"], given["draw"], given["monitor"]) == ("logistic", "3", "val_iou")
    script = generate(analyze(spec_file(SPEC)), CompileOptions("torch", "localize", given))["train.py"]
    assert '"loss": "logistic",' in script and '"draw": 3,' in script and '"monitor": "val_iou",' in script
    assert '"top_k"' not in script and '"aux_weight"' not in script  # classification's own options
    assert "def squared_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:" in script
    assert 'LOSSES = {"squared": squared_loss, "logistic": logistic_loss}  # --loss' in script


def test_a_signal_input_and_a_second_output_are_errors_too(spec_file):
    text = ("network N() {\n  input x: 32x2\n  h = x -> flatten -> dense(8)\n  h -> output y\n"
            "  h -> dense(3) -> output z\n}\n")
    with pytest.raises(CnncError) as caught:
        _plan(spec_file, text)
    assert [d.code for d in caught.value.diagnostics] == ["E0711", "E0712"]
    assert caught.value.diagnostics[1].message == "task `localize` trains one output, the network has 2"


# ---------------------------------------------------------------- data

def _folder(tmp_path, rows, classes=("cat", "dog"), header="file,class,bx,by,bh,bw"):
    from PIL import Image

    (tmp_path / "img").mkdir()
    for i in range(3):
        Image.fromarray(np.full((10, 10), 40 * i, np.uint8)).save(tmp_path / "img" / f"{i}.png")
    (tmp_path / "classes.txt").write_text("\n".join(classes))
    (tmp_path / "labels.csv").write_text("\n".join([header, *rows]) + "\n")
    return tmp_path


def test_csv_folder_reads_classes_boxes_and_none(tmp_path):
    root = _folder(tmp_path, ["img/0.png,dog,0.5,0.5,0.2,0.4", "img/1.png,none,,,,", "img/2.png,cat,0.3,0.3,0.2,0.2"])
    found = common.Reader().files(root)
    assert found.class_names == ["cat", "dog"]
    np.testing.assert_allclose(found.targets, [[1, 0.5, 0.5, 0.2, 0.4, 1], [0, 0, 0, 0, 0, -1],
                                               [1, 0.3, 0.3, 0.2, 0.2, 0]], rtol=1e-6)


@pytest.mark.parametrize("row, message", [
    ("img/0.png,dog,0.9,0.5,0.2,0.4", "labels.csv:3: box (0.9, 0.5, 0.2, 0.4) reaches outside the image: its "
                                      "right edge is at 1.1"),
    ("img/9.png,dog,0.5,0.5,0.2,0.2", "labels.csv:3: image 'img/9.png' does not exist"),
    ("img/0.png,dgo,0.5,0.5,0.2,0.2", "labels.csv:3: class 'dgo' is not in the class list (classes.txt: cat, dog); "
                                      "did you mean 'dog'?"),
    ("img/0.png,dog,0.5,0.5", "labels.csv:3: an object needs a box of four numbers bx, by, bh, bw"),
])
def test_bad_label_rows_name_the_file_and_line(tmp_path, row, message):
    root = _folder(tmp_path, ["img/1.png,none,,,,", row])
    with pytest.raises(data.DataError) as caught:
        common.Reader().files(root)
    assert str(caught.value).startswith(f"{root}/{message}")


def test_json_labels_name_the_line_of_the_entry(tmp_path):
    _folder(tmp_path, [])
    entries = [{"file": "img/0.png", "class": "cat", "box": [0.5, 0.5, 0.5, 0.5]},
               {"file": "img/1.png", "class": None},
               {"file": "img/2.png", "class": "cat", "box": [0.5, 0.1, 0.5, 0.5]}]
    text = '{"classes": ["cat"],\n "images": [\n' + ",\n".join(json.dumps(e) for e in entries) + "\n]}\n"
    (tmp_path / "labels.json").write_text(text)
    with pytest.raises(data.DataError, match=r"labels.json:5: box \(0.5, 0.1, 0.5, 0.5\) reaches outside the image: "
                                             r"its top edge is at -0.15"):
        common.Reader().files(tmp_path / "labels.json")


def test_npz_boxes_are_split_by_class_and_checked(tmp_path):
    y = np.array([0, 1, -1, 0, 1, -1, 0, 1, -1, 0])
    boxes = np.tile([0.5, 0.5, 0.4, 0.4], (10, 1))
    np.savez(tmp_path / "d.npz", x=np.zeros((10, 8, 8), np.uint8), y=y, boxes=boxes)
    loaded = data.load(str(tmp_path / "d.npz"), (8, 8, 1), (0.6, 0.2, 0.2), 0, reader=common.Reader())
    assert loaded.class_names == ["0", "1"] and loaded.train.targets.shape == (4, 6)
    assert sorted(loaded.test.targets[:, 5].tolist()) == [-1.0, 0.0, 1.0]  # "no object" is a stratum too
    boxes[3] = [0.1, 0.5, 0.4, 0.4]
    np.savez(tmp_path / "bad.npz", x=np.zeros((10, 8, 8), np.uint8), y=y, boxes=boxes)
    with pytest.raises(data.DataError, match=r"bad.npz: example 3 \(boxes\[3\]\): box .* its left edge is at -0.1"):
        data.load(str(tmp_path / "bad.npz"), (8, 8, 1), (0.6, 0.2, 0.2), 0, reader=common.Reader())


# ---------------------------------------------------------------- boxes follow the image

def test_the_box_follows_flips_crops_and_warps():
    image = np.zeros((20, 20, 1), np.float32)
    image[4:8, 10:16] = 1.0  # rows 4..7, columns 10..15: bx 0.65, by 0.3, bh 0.2, bw 0.3
    target = np.array([1, 0.65, 0.3, 0.2, 0.3, 2], np.float32)
    reader = common.Reader()
    for seed in range(6):
        aug = augment.Augment(flip=0.5, flip_vertical=0.5, crop=2, shift=0.1, rotate=0 if seed < 3 else 90)
        moved, geometry = aug.apply(image, augment.example_rng(seed, 0, 0))
        box = reader.follow(target, geometry)
        rows, cols = np.nonzero(moved[..., 0] > 0.5)
        ink = [(cols.min() + cols.max() + 1) / 40, (rows.min() + rows.max() + 1) / 40,
               (rows.max() + 1 - rows.min()) / 20, (cols.max() + 1 - cols.min()) / 20]
        assert box[0] == 1 and box[5] == 2
        assert box[1:5].tolist() == pytest.approx(ink, abs=0.051), seed


def test_geometry_maps_a_pixel_where_the_image_put_it():
    image = np.zeros((9, 11, 1), np.float32)
    image[2, 7] = 1.0
    moved, geometry = augment.Augment(flip=1.0, flip_vertical=1.0, crop=1).apply(image, augment.example_rng(0, 0, 3))
    row, col = np.unravel_index(moved[..., 0].argmax(), moved.shape[:2])
    assert geometry.points(np.array([[2.0, 7.0]])).tolist() == [[row, col]]


def test_a_box_pushed_out_of_the_image_leaves_no_object():
    geometry = augment.Geometry.identity((10, 10))
    geometry.translate([0, 30])
    assert common.Reader().follow(np.array([1, 0.5, 0.5, 0.2, 0.2, 1], np.float32), geometry).tolist() == \
        [0, 0, 0, 0, 0, -1]


# ---------------------------------------------------------------- metrics and the loss

def test_metrics_numbers():
    targets = np.array([[1, 0.5, 0.5, 0.4, 0.4, 0], [1, 0.25, 0.25, 0.5, 0.5, 1], [0, 0, 0, 0, 0, -1]])
    out = np.array([[0.9, 0.5, 0.5, 0.4, 0.2, 2.0, 0.1],  # IoU 0.5, class right
                    [0.8, 0.75, 0.75, 0.5, 0.5, 2.0, 0.1],  # no overlap, class wrong
                    [0.6, 0.1, 0.1, 0.1, 0.1, 0.0, 0.0]])  # says present: wrong
    result = common.summary(out, targets, "squared", "linear")
    first = 0.01 + 0.04 + 1 + 0.01  # pc, bw, c1, c2
    second = 0.04 + 0.25 + 0.25 + 4 + 0.81  # pc, bx, by, c1, c2
    assert result == pytest.approx({"loss": (first + second + 0.36) / 3,
                                    "present_acc": 2 / 3, "class_acc": 0.5, "iou": 0.25, "iou50": 0.5})


def test_logistic_loss_numbers():
    targets = np.array([[1, 0.5, 0.5, 0.4, 0.4, 1], [0, 0, 0, 0, 0, -1]])
    out = np.array([[0.0, 0.5, 0.6, 0.4, 0.4, 0.0, 0.0], [0.0, 9, 9, 9, 9, 9, 9]])
    # pc logit 0: log 2 each; the box 0.1^2; classes 0, 0: log 2; the second example: pc only
    assert common.loss(out, targets, "logistic", "linear") == pytest.approx((np.log(2) * 2 + 0.01 + np.log(2)) / 2)


_LOSSES = """
import json, sys
import numpy as np
sys.path.insert(0, ".")
import train
blob = np.load(sys.argv[1])
out, y = blob["out"].astype(np.float32), blob["y"].astype(np.float32)
if sys.argv[2] == "torch":
    import torch
    values = {k: float(f(torch.from_numpy(out), torch.from_numpy(y))) for k, f in train.LOSSES.items()}
else:
    values = {k: float(np.mean(np.asarray(f(y, out)))) for k, f in train.LOSSES.items()}
print(json.dumps(values))
"""


@pytest.mark.parametrize("activation", ["linear", "sigmoid"])
def test_torch_and_keras_losses_agree_with_each_other_and_numpy(tmp_path, activation):
    """A differential test: train.py's losses in both frameworks on the same predictions and targets."""
    spec = SPEC if activation == "linear" else SPEC.replace("as head\n    -> output y", "as head -> sigmoid -> "
                                                                                       "output y")
    rng = np.random.default_rng(0)
    y = np.array([common.target_row(i % 3 != 0, (0.5, 0.4, 0.3, 0.2), i % 3) for i in range(12)], np.float32)
    out = rng.normal(0, 1, (12, 8)) if activation == "linear" else rng.uniform(0.05, 0.95, (12, 8))
    np.savez(tmp_path / "case.npz", out=out, y=y)
    values = {}
    for target in ("torch", "keras"):
        folder = compile_task(spec, target, tmp_path / f"loc_{target}", task="localize")
        (folder / "losses.py").write_text(_LOSSES)
        proc = subprocess.run([sys.executable, "losses.py", str(tmp_path / "case.npz"), target], cwd=folder,
                              capture_output=True, text=True, timeout=300, env={"TF_CPP_MIN_LOG_LEVEL": "3",
                                                                                  "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stderr
        values[target] = json.loads(proc.stdout.strip().splitlines()[-1])
    for kind in ("squared", "logistic"):
        reference = common.loss(out.astype(np.float32), y, kind, activation)
        assert values["torch"][kind] == pytest.approx(reference, rel=1e-5), kind
        assert values["keras"][kind] == pytest.approx(reference, rel=1e-5), kind
