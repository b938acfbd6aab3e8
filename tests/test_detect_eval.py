"""The detect task's metrics: VOC all-point AP by hand, and COCO mAP equal to pycocotools' on the COCO JSON
files the harness writes."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from cnnc.tasks.detect.runtime import coco, evaluate
from cnnc.tasks.detect.runtime.evaluate import Boxes

SQUARE = [10.0, 10.0, 20.0, 20.0]


def test_voc_all_point_ap_by_hand():
    # 3 objects in 2 images; detections by score: hit, miss, hit, duplicate of the first (a miss), nothing for
    # the third object.  precision 1, 1/2, 2/3, 1/2 at recall 1/3, 1/3, 2/3, 2/3: AP = 1/3 * 1 + 1/3 * 2/3
    truth = [Boxes(np.array([SQUARE, [50.0, 50, 10, 10]]), np.array([0, 0])), Boxes(np.array([SQUARE]), np.array([0]))]
    found = [
        Boxes(np.array([SQUARE, [60.0, 0, 5, 5], [11.0, 11, 20, 20]]), np.array([0, 0, 0]), np.array([0.9, 0.8, 0.6])),
        Boxes(np.array([[10.0, 12, 20, 20]]), np.array([0]), np.array([0.7])),
    ]
    ap, recall, precision = evaluate.voc_class(truth, found, 0)
    np.testing.assert_allclose(recall, [1 / 3, 1 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(precision, [1, 1 / 2, 2 / 3, 1 / 2])
    assert ap == pytest.approx(1 / 3 + 2 / 9)
    assert evaluate.voc_class(truth, found, 1) is None  # no ground truth of class 1: no AP


def test_iou_and_the_coco_threshold_rule():
    # a box shifted by 2 of 20 pixels: IoU 18 * 20 / (800 - 360) = 0.8182, a hit at t <= 0.80, a miss above
    iou = evaluate.iou_xywh(np.array([[12.0, 10, 20, 20]]), np.array([SQUARE]))
    assert iou[0, 0] == pytest.approx(360 / 440)
    _, matched = evaluate.coco_matches(np.array([[12.0, 10, 20, 20]]), np.array([0.9]), np.array([SQUARE]))
    assert matched[:, 0].tolist() == [1, 1, 1, 1, 1, 1, 1, 0, 0, 0]


def _random_split(seed: int, images: int = 25, classes: int = 4):
    """Ground truth with 0-6 boxes per image (class 3 never appears), and detections: jittered copies of most
    boxes with random scores, duplicates, misses, a wrong class now and then, and boxes of class 3."""
    rng = np.random.default_rng(seed)
    truth, found = [], []
    for _ in range(images):
        k = int(rng.integers(0, 7))
        xy, wh = rng.uniform(0, 80, size=(k, 2)), rng.uniform(8, 40, size=(k, 2))
        gt = Boxes(np.concatenate([xy, wh], axis=1), rng.integers(0, classes - 1, size=k))
        keep = rng.random(k) < 0.8
        dup = rng.random(k) < 0.3
        boxes = np.concatenate([gt.boxes[keep], gt.boxes[dup]])
        labels = np.concatenate([gt.classes[keep], gt.classes[dup]])
        boxes = boxes + rng.normal(0, 3.0, size=boxes.shape) * [1, 1, 0.5, 0.5]
        labels = np.where(rng.random(len(labels)) < 0.1, rng.integers(0, classes, size=len(labels)), labels)
        extra = rng.integers(0, 3)
        boxes = np.concatenate(
            [boxes, np.concatenate([rng.uniform(0, 80, (extra, 2)), rng.uniform(5, 30, (extra, 2))], 1)]
        )
        labels = np.concatenate([labels, rng.integers(0, classes, size=extra)])
        found.append(Boxes(boxes, labels, rng.uniform(0.05, 1, size=len(labels))))
        truth.append(gt)
    return truth, found


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coco_map_equals_pycocotools_on_the_written_json_files(tmp_path, seed):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    truth, found = _random_split(seed)
    names = ["zero", "one", "two", "three"]
    files = [f"img{i}.png" for i in range(len(truth))]
    coco.write(tmp_path / "instances.json", coco.instances(files, [(120, 100)] * len(truth), truth, names))
    coco.write(tmp_path / "results.json", coco.results(found))
    ours = evaluate.evaluate(truth, found, len(names))

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(tmp_path / "instances.json"))
        run = COCOeval(gt, gt.loadRes(str(tmp_path / "results.json")), "bbox")
        run.evaluate()
        run.accumulate()
        run.summarize()
    assert ours["coco_map"] == run.stats[0]  # equal, not close: the same arithmetic on the same numbers
    assert ours["coco_map50"] == run.stats[1]
    assert 0.05 < ours["coco_map"] < ours["coco_map50"] < 0.95  # a split with hits and misses at every threshold
    for c in range(3):
        per_class = run.eval["precision"][:, :, c, 0, 2]
        assert ours["per_class"][c]["coco_ap"] == pytest.approx(float(np.mean(per_class)), abs=1e-12)
    assert np.isnan(ours["per_class"][3]["coco_ap"]) and np.isnan(ours["per_class"][3]["ap50"])
    assert ours["per_class"][3]["objects"] == 0 and ours["per_class"][3]["detections"] > 0
    assert ours["map50"] == pytest.approx(np.mean([p["ap50"] for p in ours["per_class"][:3]]))


def test_the_json_files_are_coco_shaped(tmp_path):
    truth = [Boxes(np.array([SQUARE]), np.array([1])), Boxes(np.zeros((0, 4)), np.zeros(0, np.int64))]
    found = [Boxes(np.array([SQUARE]), np.array([1]), np.array([0.75])), Boxes(np.zeros((0, 4)), [], [])]
    coco.write(tmp_path / "i.json", coco.instances(["a.png", "b.png"], [(30, 40), (30, 40)], truth, ["x", "y"]))
    blob = json.loads((tmp_path / "i.json").read_text())
    assert blob["images"][1] == {"id": 2, "file_name": "b.png", "height": 30, "width": 40}
    assert blob["annotations"] == [
        {"id": 1, "image_id": 1, "category_id": 2, "bbox": SQUARE, "area": 400.0, "iscrowd": 0}
    ]
    assert blob["categories"] == [{"id": 1, "name": "x"}, {"id": 2, "name": "y"}]
    assert coco.results(found) == [{"image_id": 1, "category_id": 2, "bbox": SQUARE, "score": 0.75}]


def test_the_map_table_has_a_row_per_class_and_the_means():
    from cnnc.tasks.detect.runtime import report

    truth = [Boxes(np.array([SQUARE, [50.0, 50, 10, 10]]), np.array([0, 1]))]
    found = [Boxes(np.array([SQUARE, [0.0, 0, 5, 5]]), np.array([0, 1]), np.array([0.9, 0.8]))]
    table = report.map_table(evaluate.evaluate(truth, found, 3), ["cat", "dog", "eel"])
    assert table.splitlines() == [
        "  class  objects  detections  AP@0.5  AP@[.5:.95]",
        "  cat          1           1  1.0000       1.0000",
        "  dog          1           1  0.0000       0.0000",
        "  eel          0           0       -            -",
        "  mean                        0.5000       0.5000",
    ]
