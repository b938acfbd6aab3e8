"""Reading segmentation masks: folders of index PNGs, class colours, .npz (3D too), the named errors,
and masks that follow the image's augmentation (nearest-neighbour, flips per axis in 3D)."""

import numpy as np
import pytest
from PIL import Image

from cnnc.tasks.runtime.data import DataError
from cnnc.tasks.segment.runtime import masks
from cnnc.tasks.segment.runtime.reader import Reader


def _folder(root, count=3, size=(6, 8), mask_mode="L", classes_txt=None, mask_size=None):
    """images/ and masks/ with class = column // 3 (values 0..2) and a 255 border on the first row."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    h, w = size
    mask = np.tile(np.arange(w) // 3, (h, 1)).astype(np.uint8)
    mask[0] = 255
    for i in range(count):
        Image.fromarray(np.full((h, w), 40 * i, np.uint8)).save(root / "images" / f"im{i}.jpg")
        m = mask if mask_size is None or i != 1 else np.zeros(mask_size, np.uint8)
        Image.fromarray(m).convert(mask_mode).save(root / "masks" / f"im{i}.png")
    if classes_txt:
        (root / "classes.txt").write_text(classes_txt)
    return mask


def test_folder_of_index_pngs(tmp_path):
    mask = _folder(tmp_path)
    paths, got = Reader((6, 8), classes=3).scan(tmp_path)
    assert [p.split("/")[-1] for p in paths] == ["im0.jpg", "im1.jpg", "im2.jpg"]
    assert got.shape == (3, 6, 8) and got.dtype == np.uint8 and (got == mask).all()


def test_masks_resized_nearest_to_the_model_input(tmp_path):
    _folder(tmp_path, size=(6, 8))
    _, got = Reader((3, 4), classes=3).scan(tmp_path)
    # each output pixel takes the source pixel under its centre: rows 1, 3, 5 and columns 1, 3, 5, 7
    # (row 0's 255s are under no centre), as PIL's NEAREST samples
    assert got[0].tolist() == [[0, 1, 1, 2]] * 3


def test_palette_masks_and_class_list(tmp_path):
    mask = _folder(tmp_path, mask_mode="P", classes_txt="sky\nroad\ncar\n")
    reader = Reader((6, 8), classes=3)
    _, got = reader.scan(tmp_path)
    assert (got == mask).all() and reader.class_names({}, got, tmp_path) == ["sky", "road", "car"]


def test_rgb_masks_through_class_colours(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.fromarray(np.zeros((2, 3), np.uint8)).save(tmp_path / "images" / "a.png")
    rgb = np.array([[[0, 0, 0], [128, 0, 0], [0, 128, 0]], [[0, 128, 0], [0, 0, 0], [128, 0, 0]]], np.uint8)
    Image.fromarray(rgb).save(tmp_path / "masks" / "a.png")
    (tmp_path / "classes.txt").write_text("background 0 0 0\nplane 128 0 0\nbike 0 128 0\n")
    _, got = Reader((2, 3), classes=3).scan(tmp_path)
    assert got[0].tolist() == [[0, 1, 2], [2, 0, 1]]
    (tmp_path / "classes.txt").write_text("background 0 0 0\nplane 128 0 0\nbike 0 0 128\n")
    with pytest.raises(masks.MaskValueError, match=r"colour \(0, 128, 0\) at row 0, column 2 is not a class colour"):
        Reader((2, 3), classes=3).scan(tmp_path)


def test_rgb_mask_without_colours_is_refused(tmp_path):
    _folder(tmp_path, mask_mode="RGB")
    with pytest.raises(masks.NotIndexMaskError, match=r"im0.png: the mask is a RGB image, not an index image"):
        Reader((6, 8), classes=3).scan(tmp_path)


def test_missing_mask_is_named(tmp_path):
    _folder(tmp_path)
    (tmp_path / "masks" / "im1.png").unlink()
    with pytest.raises(masks.MissingMaskError, match=r"im1.jpg: no mask for this image \(looked for .*masks/im1.png\)"):
        Reader((6, 8), classes=3).scan(tmp_path)


def test_mask_of_another_size_is_named(tmp_path):
    _folder(tmp_path, mask_size=(6, 7))
    with pytest.raises(masks.MaskSizeError, match=r"im1.png: the mask is 7x6 pixels but its image .*im1.jpg is 8x6"):
        Reader((6, 8), classes=3).scan(tmp_path)


def test_value_outside_the_class_list_is_named(tmp_path):
    _folder(tmp_path, classes_txt="a\nb\n")
    with pytest.raises(
        DataError,
        match=r"mask value 2 at row 1, column 6 is outside the class list 0..1 "
        r"\(classes.txt\) and is not the ignore index 255",
    ):
        Reader((6, 8), classes=3).scan(tmp_path)


def test_no_masks_folder(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(DataError, match="holds images/ and masks/"):
        Reader((6, 8), classes=3).scan(tmp_path)


def test_npz_3d_volumes_with_3d_masks(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((4, 5, 6, 7)).astype(np.float32)  # no channel axis: the model's 5x6x7x1
    y = rng.integers(0, 3, size=(4, 5, 6, 7))
    reader = Reader((5, 6, 7), classes=3)
    got = reader.arrays({"x": x, "masks": y}, "", 4, tmp_path / "v.npz")
    assert got.shape == (4, 5, 6, 7) and (got == y).all()
    assert reader.class_names({}, got, tmp_path) == ["0", "1", "2"]
    y[2, 1, 2, 3] = 7
    with pytest.raises(masks.MaskValueError, match=r"masks\[2\]: mask value 7 at position \(1, 2, 3\) is outside"):
        reader.arrays({"x": x, "masks": y}, "", 4, tmp_path / "v.npz")
    with pytest.raises(masks.MaskSizeError, match=r"`masks` is 4x5x6x6 but the images are 4 of 5x6x7"):
        reader.arrays({"x": x, "masks": y[..., :6]}, "", 4, tmp_path / "v.npz")
    with pytest.raises(DataError, match="needs `x_train` and `masks_train`"):
        reader.arrays({"x_train": x}, "_train", 4, tmp_path / "v.npz")


def test_npz_2d_masks_resized_with_their_images(tmp_path):
    x = np.zeros((1, 4, 4, 1), np.uint8)
    y = np.array([[[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 255, 255], [2, 2, 255, 255]]])
    got = Reader((2, 2), classes=3).arrays({"x": x, "y": y}, "", 1, tmp_path / "a.npz")
    assert got[0].tolist() == [[0, 1], [2, 255]]


def test_strata_are_the_main_foreground_class():
    targets = np.array([[[0, 3, 3], [2, 255, 255]], [[0, 0, 0], [0, 0, 0]]], np.uint8)
    assert Reader((2, 3), classes=4).strata(targets).tolist() == [3, 0]


class _Geometry:
    def __init__(self, matrix):
        self.matrix = matrix


def test_mask_follows_flips_per_axis_in_3d():
    rng = np.random.default_rng(3)
    volume = rng.random((3, 4, 5, 1)).astype(np.float32)
    mask = rng.integers(0, 4, size=(3, 4, 5)).astype(np.uint8)
    for seed in range(8):
        flipped, matrix = masks.random_flips(volume, 0.5, np.random.default_rng(seed))
        axes = [a for a in range(3) if matrix[a, a] < 0]
        assert np.array_equal(flipped, np.flip(volume, axis=axes))
        assert np.array_equal(masks.follow(mask, _Geometry(matrix)), np.flip(mask, axis=axes))


def test_mask_follows_a_shift_with_ignore_brought_in():
    mask = np.arange(12).reshape(3, 4).astype(np.uint8)
    moved = masks.follow(mask, _Geometry(np.array([[1.0, 0, 0], [0, 1, 1], [0, 0, 1]])))  # one column right
    assert moved.tolist() == [[255, 0, 1, 2], [255, 4, 5, 6], [255, 8, 9, 10]]


def test_axis_flips_on_top_of_the_shared_augmentation_move_the_mask_with_the_volume():
    from cnnc.tasks.runtime.augment import Augment
    from cnnc.tasks.segment.runtime.common import AxisFlips

    rng = np.random.default_rng(5)
    mask = rng.integers(0, 3, size=(4, 5, 6)).astype(np.uint8)
    augment = AxisFlips(Augment(flip=0.5, flip_vertical=0.5), 0.5)
    assert augment.active and not AxisFlips(Augment(), 0.0).active
    reader = Reader((4, 5, 6), classes=3)
    seen = set()
    for seed in range(12):
        volume, geometry = augment.apply(mask[..., None].astype(np.float32), np.random.default_rng(seed))
        assert np.array_equal(reader.follow(mask, geometry), volume[..., 0].astype(np.uint8))
        seen.add(tuple(np.round(np.diag(geometry.matrix)[:3]).astype(int)))
    assert len(seen) > 4  # several combinations of axes were flipped


def test_palette_and_colours():
    from cnnc.tasks.segment.runtime import pictures

    assert pictures.palette(5).tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]]
    table = pictures.palette(2, [(1, 2, 3), (4, 5, 6)])
    assert pictures.coloured(np.array([[0, 1, 255]]), table).tolist() == [[[1, 2, 3], [4, 5, 6], [255, 255, 255]]]
    image = np.full((1, 2, 1), 100, np.uint8)
    assert pictures.overlay(image, np.array([[0, 1]]), np.array([[0, 0, 0], [200, 0, 100]], np.uint8)).tolist() == [
        [[50, 50, 50], [150, 50, 100]]
    ]
