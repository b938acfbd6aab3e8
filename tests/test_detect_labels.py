"""The detect task's data: YOLO text labels and COCO JSON, a named error (file and line) for each bad case,
and boxes that follow a geometric augmentation (clipped, or dropped by the stated rule)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnc.tasks.detect.runtime import labels
from cnnc.tasks.runtime.data import DataError


def _image(path, size=(20, 30)):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros(size, np.uint8)).save(path)


def _yolo(tmp_path, files: dict[str, str | None], classes=("cat", "dog", "eel"), layout="ultralytics"):
    """A YOLO folder: image name -> label text (None: no label file)."""
    (tmp_path / "classes.txt").write_text("\n".join(classes) + "\n")
    for name, text in files.items():
        image = tmp_path / "images" / f"{name}.png" if layout == "ultralytics" else tmp_path / f"{name}.png"
        _image(image)
        if text is not None:
            label = labels.label_path(image, tmp_path)
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text(text)
    return tmp_path


# ---------------------------------------------------------------- YOLO text


@pytest.mark.parametrize("layout", ["ultralytics", "darknet"])
def test_yolo_labels_are_read_with_padding_and_images_without_labels_are_counted(tmp_path, layout):
    root = _yolo(tmp_path, {"a": "1 0.5 0.5 0.2 0.4\n0 0.25 0.75 0.1 0.1\n", "b": "", "c": None}, layout=layout)
    found = labels.read_yolo(root, max_objects=3)
    assert [p.rsplit("/", 1)[1] for p in found.paths] == ["a.png", "b.png", "c.png"]
    assert found.class_names == ["cat", "dog", "eel"]
    np.testing.assert_allclose(found.targets[0], [[1, 0.5, 0.5, 0.2, 0.4], [0, 0.25, 0.75, 0.1, 0.1], [-1, 0, 0, 0, 0]])
    assert (found.targets[1:, :, 0] == -1).all()
    assert found.notes == ["1 of 3 images have no label file: read as images without objects"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 0.5 0.5 0.2\n", ":2: a label line is `class cx cy w h` (5 numbers), got '0 0.5 0.5 0.2'"),
        ("0 0.5 0.5 0.2 x\n", ":2: a label line is `class cx cy w h` (5 numbers), got '0 0.5 0.5 0.2 x'"),
        ("3 0.5 0.5 0.2 0.2\n", ":2: class id 3 is out of range: the class list has 3 classes (ids 0..2)"),
        ("1.5 0.5 0.5 0.2 0.2\n", ":2: class id 1.5 is out of range"),
        ("1 0.95 0.5 0.2 0.2\n", ":2: box (0.95, 0.5, 0.2, 0.2) reaches outside the image: its right edge is at 1.05"),
        ("1 0.5 0.5 0 0.2\n", ":2: box (0.5, 0.5, 0, 0.2) has no area (w and h must be > 0)"),
    ],
)
def test_each_bad_label_line_is_named_with_its_file_and_line(tmp_path, text, message):
    root = _yolo(tmp_path, {"a": "0 0.5 0.5 0.1 0.1\n" + text})
    with pytest.raises(DataError) as caught:
        labels.read_yolo(root, max_objects=5)
    assert str(caught.value).startswith(str(root / "labels" / "a.txt") + message)


def test_a_label_without_an_image_is_an_error_that_lists_it(tmp_path):
    root = _yolo(tmp_path, {"a": "0 0.5 0.5 0.1 0.1\n"})
    (root / "labels" / "ghost.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DataError) as caught:
        labels.read_yolo(root, max_objects=5)
    assert str(caught.value).startswith("1 label file(s) without an image")
    assert str(root / "labels" / "ghost.txt") in str(caught.value)


def test_no_class_list_and_too_many_objects_say_what_to_do(tmp_path):
    root = _yolo(tmp_path, {"a": "0 0.5 0.5 0.1 0.1\n" * 4})
    with pytest.raises(DataError, match=r"a.txt: 4 objects in one image, more than --max-objects 3; help: pass"):
        labels.read_yolo(root, max_objects=3)
    (root / "classes.txt").unlink()
    with pytest.raises(DataError, match="no class list"):
        labels.read_yolo(root, max_objects=5)


# ---------------------------------------------------------------- COCO JSON


def _coco(tmp_path, **changes):
    _image(tmp_path / "images" / "one.png", (40, 50))
    _image(tmp_path / "two.png", (40, 50))
    blob = {
        "images": [
            {"id": 7, "file_name": "one.png", "width": 50, "height": 40},
            {"id": 9, "file_name": "two.png", "width": 50, "height": 40},
        ],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 5, "bbox": [10, 8, 20, 16], "iscrowd": 0},
            {"id": 2, "image_id": 7, "category_id": 3, "bbox": [0, 0, 5, 4], "iscrowd": 0},
            {"id": 3, "image_id": 9, "category_id": 3, "bbox": [0, 0, 50, 40], "iscrowd": 1},
        ],
        "categories": [{"id": 5, "name": "dog"}, {"id": 3, "name": "cat"}],
    }
    for key, value in changes.items():
        blob["annotations"][1][key] = value
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(blob, indent=1))
    return path


def test_coco_json_is_read_in_category_id_order_and_crowds_are_counted(tmp_path):
    found = labels.read_coco(_coco(tmp_path), max_objects=2)
    assert found.class_names == ["cat", "dog"]
    assert found.paths == [str(tmp_path / "images" / "one.png"), str(tmp_path / "two.png")]
    np.testing.assert_allclose(found.targets[0], [[1, 0.4, 0.4, 0.4, 0.4], [0, 0.05, 0.05, 0.1, 0.1]])
    assert (found.targets[1, :, 0] == -1).all()
    assert found.notes == [
        "left out 1 crowd annotation(s) (iscrowd: 1)",
        "1 of 2 images have no annotations: read as images without objects",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image_id": 8}, 'annotation 2 refers to image_id 8, which is not in "images"'),
        ({"category_id": 4}, 'annotation 2 has category_id 4, which is not in "categories" (ids 3, 5)'),
        (
            {"bbox": [45, 0, 10, 4]},
            "annotation 2 in image 7: bbox [45, 0, 10, 4] reaches outside the 50x40 image: its right edge is at 55",
        ),
        ({"bbox": [1, 2]}, "annotation 2: bbox must be [x, y, w, h] in pixels, got [1, 2]"),
        ({"bbox": [1, 2, 0, 3]}, "annotation 2 in image 7: bbox [1, 2, 0, 3] has no area (w and h must be > 0)"),
    ],
)
def test_each_bad_coco_annotation_is_named_with_its_line(tmp_path, change, message):
    path = _coco(tmp_path, **change)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if '"id": 2' in text) + 3
    with pytest.raises(DataError) as caught:
        labels.read_coco(path, max_objects=5)
    assert str(caught.value) == f"{path}:{line}: {message}"


def test_a_missing_coco_image_file_is_named(tmp_path):
    path = _coco(tmp_path)
    (tmp_path / "two.png").unlink()
    with pytest.raises(DataError, match=r"image 9's file 'two.png' does not exist"):
        labels.read_coco(path, max_objects=5)


# ---------------------------------------------------------------- boxes follow the image


class Affine:
    """What `follow` reads of the runtime's augment.Geometry: the size and where positions go."""

    def __init__(self, size, matrix):
        self.size, self.matrix = size, np.asarray(matrix, dtype=np.float64)

    def points(self, positions):
        return positions @ self.matrix[:2, :2].T + self.matrix[:2, 2]


def _one(*rows):
    target = np.zeros((3, 5), np.float32)
    target[:, 0] = -1
    target[: len(rows)] = rows
    return target


def test_a_horizontal_flip_mirrors_the_box():
    flip = Affine((20, 40), [[1, 0, 0], [0, -1, 39], [0, 0, 1]])  # column c -> 39 - c
    moved = labels.follow(_one([2, 0.25, 0.5, 0.1, 0.2]), flip)
    np.testing.assert_allclose(moved[0], [2, 0.75, 0.5, 0.1, 0.2], atol=1e-6)
    assert moved[1, 0] == -1


def test_a_shift_clips_a_box_it_cuts_and_drops_one_it_mostly_pushes_out():
    # 20 pixels to the right on a 40-wide image: box A (x 0.3..0.7) is cut to 0.8..1.0, half of it stays (kept,
    # clipped); box B (x 0.4..0.8 -> 0.9..1.3) keeps 0.1 / 0.4 = 25% < 40% (dropped); box C moves whole
    shift = Affine((20, 40), [[1, 0, 0], [0, 1, 20], [0, 0, 1]])
    target = _one([0, 0.5, 0.5, 0.4, 0.2], [1, 0.6, 0.5, 0.4, 0.2], [2, 0.2, 0.5, 0.2, 0.2])
    moved = labels.follow(target, shift)
    np.testing.assert_allclose(moved, [[0, 0.9, 0.5, 0.2, 0.2], [2, 0.7, 0.5, 0.2, 0.2], [-1, 0, 0, 0, 0]], atol=1e-6)


def test_npz_boxes_are_checked_and_padded_to_max_objects(tmp_path):
    reader = labels.Reader(max_objects=4)
    boxes = np.array([[[1, 0.5, 0.5, 0.2, 0.2], [-1, 0, 0, 0, 0]], [[0, 0.5, 0.5, 0.2, 0.2], [0, 0.3, 0.3, 0.1, 0.1]]])
    targets = reader.arrays({"boxes": boxes}, "", 2, tmp_path / "d.npz")
    assert targets.shape == (2, 4, 5) and targets[0, 1:, 0].tolist() == [-1, -1, -1]
    assert reader.strata(targets).tolist() == [1, 2]
    assert reader.class_names({}, targets, tmp_path / "d.npz") == ["0", "1"]
    boxes[1, 1, 3] = 0.9  # x 0.3 +- 0.45: the left edge at -0.15
    with pytest.raises(
        DataError,
        match=r"d.npz: boxes\[1\]: box \(0.3, 0.3, 0.9, 0.1\) reaches outside the image: "
        r"its left edge is at -0.15",
    ):
        reader.arrays({"boxes": boxes}, "", 2, tmp_path / "d.npz")


@pytest.mark.parametrize("seed", range(6))
def test_boxes_follow_the_runtimes_flip_zoom_and_shift(seed):
    """A bright rectangle in a dark image, augmented by the shared runtime: the box that follows it still
    bounds the bright pixels (to within the one-pixel blur of bilinear resampling)."""
    from cnnc.tasks.runtime.augment import Augment

    image = np.zeros((40, 60, 1), np.float32)
    image[10:22, 30:48] = 1.0  # rows 10..21, columns 30..47: box x 30..48 / 60, y 10..22 / 40
    target = _one([4, 39 / 60, 16 / 40, 18 / 60, 12 / 40])
    moved_image, geometry = Augment(flip=0.5, zoom=0.2, shift=0.15).apply(image, np.random.default_rng(seed))
    moved = labels.follow(target, geometry)
    assert moved[0, 0] == 4
    cx, cy, w, h = moved[0, 1:] * [60, 40, 60, 40]
    rows, cols = np.nonzero(moved_image[..., 0] > 0.5)
    assert abs((cx - w / 2) - cols.min()) <= 1.0 and abs((cx + w / 2) - (cols.max() + 1)) <= 1.0
    assert abs((cy - h / 2) - rows.min()) <= 1.0 and abs((cy + h / 2) - (rows.max() + 1)) <= 1.0
