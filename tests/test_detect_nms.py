"""The detect task's inference filter: score threshold and per-class non-max suppression, by hand and against
TensorFlow's `tf.image.non_max_suppression` on random boxes."""

from __future__ import annotations

import numpy as np
import pytest

from cnnc.tasks.detect.runtime import nms, yolo

# boxes 0 and 1 overlap with IoU 0.6 / 1.4 = 0.4286; box 2 lies inside box 0 (IoU 0.81) and overlaps box 1
# with IoU 0.54 / 1.27 = 0.425
CORNERS = np.array([[0.0, 0.0, 1.0, 1.0], [0.4, 0.0, 1.4, 1.0], [0.1, 0.1, 1.0, 1.0]])


def test_suppression_by_hand():
    assert nms.nms(CORNERS, np.array([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 1]
    assert nms.nms(CORNERS, np.array([0.7, 0.8, 0.9]), 0.5).tolist() == [2, 1]  # 2 removes 0; 1 survives 2
    assert nms.nms(CORNERS, np.array([0.9, 0.8, 0.7]), 0.4).tolist() == [0]  # 0.4286 >= 0.4: suppressed


def test_classes_are_suppressed_apart():
    kept = nms.batched_nms(CORNERS, np.array([0.9, 0.8, 0.7]), np.array([0, 0, 1]), 0.5)
    assert kept.tolist() == [0, 1, 2]


def test_select_drops_scores_at_or_below_the_threshold_and_keeps_the_best_class():
    scores = np.array([[0.1, 0.9], [0.6, 0.0], [0.2, 0.61]])  # box 1's best score is 0.6: not above 0.6
    found = nms.select(CORNERS, scores, score_threshold=0.6, iou_threshold=0.5)
    assert found.scores.tolist() == [0.9]  # box 2 (0.61) lies inside box 0 with IoU 0.81 >= 0.5
    found = nms.select(CORNERS, scores, score_threshold=0.6, iou_threshold=0.85)
    assert found.scores.tolist() == [0.9, 0.61]
    assert found.classes.tolist() == [1, 1]
    assert found.boxes.tolist() == [CORNERS[0].tolist(), CORNERS[2].tolist()]
    assert len(nms.select(CORNERS, scores, 0.55, 0.85)) == 3  # box 1's 0.6 passes a lower threshold


def test_detect_on_a_decoded_grid_finds_one_box_per_object():
    anchors = np.array([[0.2, 0.2], [0.2, 0.2]])
    raw = np.full((1, 2, 2, 2, 6), -20.0)
    raw[0, 0, 1, 0, :6] = [0.0, 0.0, 0.0, 0.0, 5.0, 20.0]  # a 0.2 x 0.2 box at (0.75, 0.25), P(object) 0.9933
    raw[0, 0, 1, 1, :6] = [0.2, 0.0, 0.0, 0.0, 4.0, 20.0]  # 0.0249 to its right (IoU 0.78), less sure: suppressed
    raw[0, 1, 0, 0, :6] = [0.0, 0.0, 0.0, 0.0, 0.3, 20.0]  # P(object) 0.574 <= 0.6: dropped
    raw = raw.reshape(1, 2, 2, 12)
    (found,) = nms.detect(raw, anchors, classes=1)
    assert found.classes.tolist() == [0]
    np.testing.assert_allclose(found.boxes, [[0.65, 0.15, 0.85, 0.35]])
    assert found.scores[0] == pytest.approx(1 / (1 + np.exp(-5.0)))


@pytest.mark.parametrize("seed", range(4))
def test_kept_indices_match_tensorflow_per_class(seed):
    """Random boxes, scores and classes: per class, the indices kept (above the score threshold, after
    suppression at IoU 0.5) are TensorFlow's, in the same order."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    count, classes = 300, 4
    centre, size = rng.uniform(0, 0.6, size=(count, 2)), rng.uniform(0.1, 0.5, size=(count, 2))
    corners = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    scores, labels = rng.uniform(0, 1, size=count), rng.integers(0, classes, size=count)
    keep = np.flatnonzero(scores > 0.6)
    ours = keep[nms.batched_nms(corners[keep], scores[keep], labels[keep], 0.5)]
    total = 0
    for c in range(classes):
        mine = np.flatnonzero(labels == c)
        yx = corners[mine][:, [1, 0, 3, 2]]  # TensorFlow takes (y1, x1, y2, x2)
        theirs = tf.image.non_max_suppression(
            yx, scores[mine], max_output_size=count, iou_threshold=0.5, score_threshold=0.6
        ).numpy()
        assert ours[labels[ours] == c].tolist() == mine[theirs].tolist()
        total += len(theirs)
    assert total == len(ours) and 20 < total < len(keep)  # suppression happened, and not to everything


def test_decode_of_the_loss_grid_agrees_with_yolo_decode_shapes():
    raw = np.zeros((2, 3, 4, 2 * 7))
    corners, scores = yolo.decode(raw, np.array([[0.1, 0.2], [0.3, 0.3]]), classes=2)
    assert corners.shape == (2, 24, 4) and scores.shape == (2, 24, 2)
    np.testing.assert_allclose(scores, 0.25)  # sigmoid(0) * softmax uniform over 2
    np.testing.assert_allclose(corners[0, 1], [0.125 - 0.15, 1 / 6 - 0.15, 0.125 + 0.15, 1 / 6 + 0.15])
