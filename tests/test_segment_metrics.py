"""Segmentation metrics, the centre crop and overlap-tile prediction, with explicit numbers."""

import numpy as np
import pytest

from cnnc.tasks.segment.runtime import metrics, tiles


def test_confusion_matrix_leaves_out_ignored_pixels():
    truth = np.array([[0, 0, 1, 1], [2, 2, 255, 255]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 2, 0]])
    assert metrics.confusion_matrix(pred, truth, 3).tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_scores_and_absent_classes():
    # 4 classes; class 3 is in neither truth nor prediction: no IoU, left out of the mean
    matrix = np.array([[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    got = metrics.scores(matrix)
    assert got["pixel_acc"] == pytest.approx(4 / 6)
    assert got["iou"][:3] == pytest.approx([1 / 3, 2 / 3, 1 / 2])
    assert np.isnan(got["iou"][3]) and got["absent"] == [3]
    assert got["miou"] == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert got["class_dice"][:3] == pytest.approx([2 / 4, 4 / 5, 2 / 3])
    assert got["dice"] == pytest.approx((2 / 4 + 4 / 5 + 2 / 3) / 3)


def test_a_class_only_predicted_counts_with_iou_zero():
    got = metrics.scores(np.array([[3, 1], [0, 0]]))  # class 1 never true, predicted once
    assert got["iou"] == pytest.approx([0.75, 0.0]) and got["miou"] == pytest.approx(0.375)


def test_evaluate_reads_one_channel_heads():
    out = np.array([[[[0.9], [0.2]], [[0.6], [0.4]]]])  # sigmoid, 1 x 2 x 2 x 1
    mask = np.array([[[1, 0], [0, 255]]])
    got = metrics.evaluate(out, mask, 2, "sigmoid")
    assert got["confusion"] == [[1, 1], [0, 1]]
    logits = metrics.evaluate(np.log(out / (1 - out)), mask, 2, "linear")
    assert logits["confusion"] == got["confusion"]


def test_centre_crop_of_the_paper_unet():
    assert tiles.crop_offsets((572, 572), (388, 388)) == [92, 92]
    mask = np.arange(2 * 9 * 7).reshape(2, 9, 7)
    assert tiles.centre_crop(mask, (5, 3)).tolist() == mask[:, 2:7, 2:5].tolist()
    with pytest.raises(ValueError, match="larger"):
        tiles.crop_offsets((4, 4), (5, 4))


def _valid_net(tile_in, tile_out):
    """A stand-in for a valid-convolution network: the one-hot of its input's centre pixels' class
    (the pixel value), so a whole-image prediction must equal the one-hot of the image."""

    def predict(batch):
        assert batch.shape[1:-1] == tuple(tile_in)
        centre = tiles.centre_crop(batch[..., 0], tile_out)
        return np.eye(4)[centre.astype(np.int64)]

    return predict


@pytest.mark.parametrize(
    "size,tile_in,tile_out",
    [
        ((30, 17), (20, 20), (12, 12)),
        ((5, 3), (20, 20), (12, 12)),
        ((7, 13, 9), (10, 10, 10), (6, 6, 6)),
        ((20, 5), (8, 8), (8, 8)),
    ],
    ids=["2d-valid", "2d-smaller-than-a-tile", "3d-valid", "2d-same"],
)
def test_overlap_tile_labels_every_pixel(size, tile_in, tile_out):
    image = np.random.default_rng(0).integers(0, 4, size=(*size, 1)).astype(np.float32)
    probs = tiles.predict_tiled(image, _valid_net(tile_in, tile_out), tile_in, tile_out, batch_size=3)
    assert probs.shape == (*size, 4)
    assert probs.sum(axis=-1).min() == 1.0  # every pixel written (zeros would stay where none was)
    assert (probs.argmax(-1) == image[..., 0]).all()


def test_tile_layout_mirrors_the_margin():
    # 30 pixels, tiles 20 -> 12: 3 tiles (36 labelled), margin 4 before, 4 + 6 after
    assert tiles.tile_layout((30,), (20,), (12,)) == ([3], [(4, 10)])


def test_the_report_crops_to_the_output_and_names_absent_classes():
    from types import SimpleNamespace

    from cnnc.tasks.runtime.data import Split
    from cnnc.tasks.segment.runtime.common import Evaluation, SegmentHead

    head = SegmentHead(
        output="y", channels=3, classes=3, activation="softmax", input_size=(4, 4), output_size=(2, 2), layer="head"
    )
    cfg = SimpleNamespace(loss="ce", class_weights=[], ignore_index=255)
    masks = np.full((1, 4, 4), 7, np.uint8)  # the border is never looked at: only the centre 2x2 is labelled
    masks[0, 1:3, 1:3] = [[0, 1], [1, 255]]
    predictions = np.eye(3)[[[[0, 1], [0, 2]]]]  # 1 x 2 x 2 x 3, one-hot probabilities
    split = Split("test", masks)
    result = Evaluation(head, cfg).evaluate(predictions, split, SimpleNamespace(class_names=["bg", "a", "b"]))
    assert result["confusion"] == [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
    assert result["iou"][:2] == pytest.approx([0.5, 0.5]) and result["absent"] == [2]
    assert result["miou"] == pytest.approx(0.5) and result["pixel_acc"] == pytest.approx(2 / 3)
    report = Evaluation(head, cfg).report({**result, "examples": 1}, "test")
    assert "mean IoU 0.5000" in report and "absent from both: b;" in report
