"""The detect task's grid: assignment, YOLOv2 encoding and decoding, k-means anchors, and the loss, with the
same value in numpy, PyTorch and TensorFlow for the same predictions and targets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnc.tasks.detect.runtime import boxes, yolo

ANCHORS = np.array([[0.1, 0.1], [0.3, 0.2]])


def _targets(*objects, pad: int = 3) -> np.ndarray:
    rows = [list(o) for o in objects] + [[-1, 0, 0, 0, 0]] * (pad - len(objects))
    return np.array([rows], dtype=np.float64)


# ---------------------------------------------------------------- assignment and encoding


def test_an_object_goes_to_its_midpoints_cell_and_its_best_shaped_anchor():
    # midpoint (0.6, 0.3) on a 4x4 grid: column floor(2.4) = 2, row floor(1.2) = 1; shape 0.28 x 0.22 has IoU
    # 0.01 / 0.0616 = 0.162 with the 0.1 x 0.1 anchor and 0.056 / 0.0656 = 0.854 with the 0.3 x 0.2 one
    grid = yolo.encode(_targets([1, 0.6, 0.3, 0.28, 0.22]), ANCHORS, (4, 4), classes=3)
    assert grid.shape == (1, 4, 4, 2, 8)
    assert np.argwhere(grid[..., 4] == 1).tolist() == [[0, 1, 2, 1]]
    np.testing.assert_allclose(grid[0, 1, 2, 1], [0.4, 0.2, math.log(0.28 / 0.3), math.log(0.22 / 0.2), 1, 0, 1, 0])
    assert grid.sum() == pytest.approx(grid[0, 1, 2, 1].sum())  # nothing anywhere else


def test_a_slot_claimed_twice_trains_the_first_object_and_rectangular_grids_index_rows_then_columns():
    grid = yolo.encode(
        _targets([0, 0.1, 0.9, 0.1, 0.1], [2, 0.12, 0.88, 0.09, 0.11], [1, 0.9, 0.1, 0.3, 0.2]),
        ANCHORS,
        (2, 3),
        classes=3,
    )
    assert np.argwhere(grid[..., 4] == 1).tolist() == [[0, 0, 2, 1], [0, 1, 0, 0]]
    assert grid[0, 1, 0, 0, 5:].tolist() == [1, 0, 0]  # class 0, the first in the file, not class 2


def test_decoding_an_encoded_box_gives_the_box_back():
    objects = np.array([[[0, 0.62, 0.31, 0.27, 0.21], [1, 0.1, 0.85, 0.08, 0.12]]])
    grid = yolo.encode(objects, ANCHORS, (4, 4), classes=2)
    raw = np.full(grid.shape, -30.0)  # objectness and class logits: very sure "no"
    cell = grid[..., 4] == 1
    xy = np.clip(grid[..., :2], 1e-9, 1 - 1e-9)
    raw[..., :2] = np.log(xy / (1 - xy))  # the inverse of the sigmoid
    raw[..., 2:4] = grid[..., 2:4]
    raw[cell, 4] = 30.0
    raw[cell, 5:] = np.where(grid[cell, 5:] == 1, 30.0, -30.0)
    corners, scores = yolo.decode(raw.reshape(1, 4, 4, -1), ANCHORS, classes=2)
    found = scores.max(axis=-1) > 0.5
    np.testing.assert_allclose(boxes.to_center(corners[found]), objects[0, :, 1:], atol=1e-9)
    assert scores[found].argmax(axis=-1).tolist() == [0, 1]  # row, column, anchor order: row 1, then row 3


# ---------------------------------------------------------------- anchors


def test_shape_iou_and_the_mean_best_iou():
    iou = boxes.shape_iou([[0.28, 0.22]], ANCHORS)
    np.testing.assert_allclose(iou, [[0.01 / 0.0616, 0.056 / 0.0656]])
    assert boxes.mean_best_iou([[0.1, 0.1], [0.3, 0.2]], ANCHORS) == 1.0


def test_kmeans_with_one_minus_iou_finds_the_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0.05, 0.08], [0.2, 0.2], [0.5, 0.3]])
    sizes = np.concatenate([c * rng.uniform(0.95, 1.05, size=(50, 2)) for c in centres])
    anchors = boxes.kmeans_anchors(sizes, 3, seed=1)
    np.testing.assert_allclose(anchors, centres, rtol=0.03)
    assert boxes.mean_best_iou(sizes, anchors) > 0.93
    assert boxes.mean_best_iou(sizes, anchors) > boxes.mean_best_iou(sizes, anchors[:1])
    with pytest.raises(ValueError, match="at least 4 distinct box shapes"):
        boxes.kmeans_anchors(centres, 4)


def test_anchor_text_round_trips_and_bad_text_says_why():
    anchors = boxes.parse_anchors("0.1,0.2 0.3,0.25")
    assert anchors.tolist() == [[0.1, 0.2], [0.3, 0.25]]
    assert boxes.format_anchors(anchors) == "0.1,0.2 0.3,0.25"
    with pytest.raises(ValueError, match="fractions of the image"):
        boxes.parse_anchors("10,20")
    with pytest.raises(ValueError, match="w,h w,h"):
        boxes.parse_anchors("0.1;x")


# ---------------------------------------------------------------- the loss


def test_the_loss_of_an_all_zero_output_by_hand():
    # one object in slot (row 1, column 2, anchor 1) of a 4x4x2 grid, 3 classes, raw output all 0:
    # sigmoid(0) = 0.5 for x and y, t_w = t_h = 0, P(object) = 0.5, softmax uniform
    raw = np.zeros((1, 4, 4, 2 * 8))
    terms = yolo.loss_terms(raw, _targets([1, 0.6, 0.3, 0.28, 0.22]), ANCHORS, 3, yolo.NumpyOps())
    box = (0.5 - 0.4) ** 2 + (0.5 - 0.2) ** 2 + math.log(0.28 / 0.3) ** 2 + math.log(0.22 / 0.2) ** 2
    assert terms["box"] == pytest.approx(box)
    assert terms["obj"] == pytest.approx(math.log(2))
    assert terms["noobj"] == pytest.approx(31 * math.log(2))
    assert terms["cls"] == pytest.approx(math.log(3))
    total = yolo.total_loss(terms, box_weight=5.0, noobj_weight=0.5)
    assert total == pytest.approx(5 * box + math.log(2) + 15.5 * math.log(2) + math.log(3))


def _random_case(seed: int, n: int = 4, grid=(5, 6), classes: int = 3, objects: int = 6):
    rng = np.random.default_rng(seed)
    raw = rng.normal(0, 1.5, size=(n, *grid, len(ANCHORS) * (5 + classes))).astype(np.float32)
    count = rng.integers(0, objects + 1, size=n)
    count[0] = objects  # at least one full image
    targets = np.full((n, objects, 5), -1.0, dtype=np.float32)
    targets[..., 1:] = 0.0
    for i, k in enumerate(count):
        wh = rng.uniform(0.03, 0.5, size=(k, 2))
        centre = rng.uniform(wh / 2, 1 - wh / 2)
        targets[i, :k] = np.concatenate([rng.integers(0, classes, size=(k, 1)), centre, wh], axis=1)
    targets[1, :2] = targets[0, :2]  # a slot claimed twice in image 1
    targets[1, 1, 0] = (targets[1, 0, 0] + 1) % classes
    return raw, targets


@pytest.mark.parametrize("seed", [0, 1])
def test_the_loss_is_the_same_in_numpy_pytorch_and_tensorflow(seed):
    """The differential test: the same raw outputs and targets give the same four terms (float32 against
    the float64 reference), and the same gradient in both frameworks."""
    import tensorflow as tf
    import torch

    from cnnc.tasks.detect.runtime import keras as keras_detect
    from cnnc.tasks.detect.runtime import torch as torch_detect

    raw, targets = _random_case(seed)
    want = yolo.loss_terms(raw.astype(np.float64), targets.astype(np.float64), ANCHORS, 3, yolo.NumpyOps())
    assert all(value > 0 for value in want.values())
    nchw = torch.tensor(raw).permute(0, 3, 1, 2).contiguous().requires_grad_(True)
    got_torch = torch_detect.loss_terms(nchw, torch.tensor(targets), ANCHORS, 3)
    tf_raw = tf.Variable(raw)
    with tf.GradientTape() as tape:
        got_tf = keras_detect.loss_terms(tf_raw, tf.constant(targets), ANCHORS, 3)
        tf_total = yolo.total_loss(got_tf, 5.0, 0.5)
    for term in yolo.TERMS:
        assert got_torch[term].item() == pytest.approx(want[term], rel=1e-5)
        assert float(got_tf[term]) == pytest.approx(want[term], rel=1e-5)
    yolo.total_loss(got_torch, 5.0, 0.5).backward()
    torch_grad = nchw.grad.permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(tape.gradient(tf_total, tf_raw).numpy(), torch_grad, rtol=1e-4, atol=1e-6)
    assert np.abs(torch_grad).sum() > 0


def test_the_torch_loss_stays_float32_under_autocast():
    """Mixed precision runs the network in half precision; the loss (assignment einsums, sums over the grid)
    must not: under CPU autocast (bfloat16) it is the float32 value to the bit."""
    import torch

    from cnnc.tasks.detect.runtime import torch as torch_detect

    raw, targets = _random_case(3)
    out = torch.tensor(raw).permute(0, 3, 1, 2)
    plain = torch_detect.loss_terms(out, torch.tensor(targets), ANCHORS, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = torch_detect.loss_terms(out, torch.tensor(targets), ANCHORS, 3)
    for term in yolo.TERMS:
        assert mixed[term].dtype == torch.float32 and mixed[term].item() == plain[term].item()


def test_anchors_are_given_or_found_and_printed_with_their_mean_iou():
    from types import SimpleNamespace

    from cnnc.tasks.detect.runtime.common import DetectHead, find_anchors
    from cnnc.tasks.runtime.config import ConfigError

    head = DetectHead(output="y", grid=(4, 4), anchors=2, classes=3, layer=None)
    targets = _targets([0, 0.5, 0.5, 0.1, 0.1], [1, 0.5, 0.5, 0.3, 0.2], [2, 0.3, 0.3, 0.31, 0.2])
    said = []
    given = find_anchors(SimpleNamespace(anchors="0.1,0.1 0.3,0.2", seed=0), head, targets, said.append)
    assert given.tolist() == ANCHORS.tolist()
    assert said[-1].endswith("(given; on 3 training boxes: mean IoU with the best anchor 0.9892)")
    found = find_anchors(SimpleNamespace(anchors="auto", seed=0), head, targets, said.append)
    assert found.tolist() == [[0.1, 0.1], [0.305, 0.2]]  # the two wide boxes' median, smallest area first
    assert "k-means (1 - IoU) on 3 training boxes" in said[-1]
    with pytest.raises(ConfigError, match="--anchors gives 1 anchors, the output `y` has 2"):
        find_anchors(SimpleNamespace(anchors="0.1,0.1", seed=0), head, targets, said.append)
