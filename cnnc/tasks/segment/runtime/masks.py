"""Masks: reading them from files and arrays, checking them, and moving them with the image.

Files, the layout of the common segmentation datasets (VOC, Cityscapes' index PNGs, Oxford pets):

    DATA/images/NAME.png|jpg|...   the images
    DATA/masks/NAME.png            one index image per image, same name: a pixel's value is its class
    DATA/classes.txt               optional: one class per line in index order, `name` or `name R G B`

An index image is an 8- or 16-bit greyscale or palette PNG.  An RGB mask is read only through the
colours of classes.txt (each colour one class); otherwise it is refused, since its colours say nothing
about class indices.  Pixels equal to the ignore index (255 by default, VOC's object borders) have no
label.  A `.npz` holds `x` and `masks` (or `y`): N x S... class indices, S one to three spatial axes,
so 3D volumes come with 3D masks; `class_names` is optional.

Masks are stored at the model's input size (resized nearest-neighbour, like their images, which are
resized bilinearly); a network whose output is smaller trains on the centre crop (tiles.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...runtime.data import DataError
from .metrics import IGNORE

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
_INDEX_MODES = {"L", "P", "I", "I;16", "1"}


# The mistakes a segmentation data set is known for, each its own DataError (the runtime prints any DataError
# as one message; code that reads masks can catch the one it expects).
class MaskSizeError(DataError):
    """A mask whose size differs from its image's."""


class MaskValueError(DataError):
    """A mask value outside the class list that is not the ignore index (or an unknown class colour)."""


class MissingMaskError(DataError):
    """An image without a mask of the same name."""


class NotIndexMaskError(DataError):
    """An RGB(A) mask with no class colours to read it by: not an index image."""


def read_classes(path: Path) -> tuple[list[str], list[tuple[int, int, int]] | None]:
    """Class names and (where every line gives one) colours from a classes.txt."""
    names, colours = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        names.append(fields[0])
        if len(fields) == 4 and all(f.isdigit() and int(f) < 256 for f in fields[1:]):
            colours.append(tuple(int(f) for f in fields[1:]))
        elif len(fields) != 1:
            raise DataError(f"{path}:{number}: a class line is `name` or `name R G B` (0..255), got {line.strip()!r}")
    if colours and len(colours) != len(names):
        raise DataError(f"{path}: give a colour on every line or on none ({len(colours)} of {len(names)} have one)")
    return names, (colours or None)


def read_mask(path: Path, colours=None) -> np.ndarray:
    """An index image as an H x W integer array (class indices); RGB only through the class colours."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            mode = image.mode
            array = np.asarray(image.convert("RGB") if mode not in _INDEX_MODES else image)
    except Exception as exc:
        raise DataError(
            f"cannot read mask {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    if mode in _INDEX_MODES:
        return array.astype(np.int64)
    if colours is None:
        raise NotIndexMaskError(
            f"{path}: the mask is a {mode} image, not an index image (each pixel's value its class)\n"
            "help: save masks as 8-bit greyscale or palette PNGs of class indices, or give each class's colour "
            "in classes.txt (`name R G B`) so the colours map to classes"
        )
    return _colours_to_classes(array, colours, path)


def _colours_to_classes(rgb: np.ndarray, colours, path: Path) -> np.ndarray:
    code = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    table = {(r << 16) | (g << 8) | b: k for k, (r, g, b) in enumerate(colours)}
    out = np.full(code.shape, -1, dtype=np.int64)
    for value, k in table.items():
        out[code == value] = k
    if (out < 0).any():
        r, c = (int(v) for v in np.argwhere(out < 0)[0])
        raise MaskValueError(
            f"{path}: colour {tuple(int(v) for v in rgb[r, c])} at row {r}, column {c} is not a class "
            "colour of classes.txt"
        )
    return out


def check_values(mask: np.ndarray, classes: int, ignore: int, where: str, listed: str) -> None:
    """MaskValueError naming the first value that is neither a class index nor the ignore index."""
    bad = (mask != ignore) & ((mask < 0) | (mask >= classes))
    if bad.any():
        at = [int(v) for v in np.argwhere(bad)[0]]
        raise MaskValueError(
            f"{where}: mask value {int(mask[tuple(at)])} at {_position(at)} is outside the class list "
            f"0..{classes - 1} ({listed}) and is not the ignore index {ignore}"
        )


def _position(at: list[int]) -> str:
    if len(at) == 2:
        return f"row {at[0]}, column {at[1]}"
    return "position (" + ", ".join(map(str, at)) + ")"


def resize_nearest(mask: np.ndarray, size) -> np.ndarray:
    """A mask at another spatial size, nearest-neighbour (a class index is never blended), any rank."""
    index = np.ix_(
        *[
            np.minimum((np.arange(n) + 0.5) * m / n, m - 1).astype(np.int64)
            for n, m in zip(size, mask.shape, strict=True)
        ]
    )
    return mask[index]


def follow(mask: np.ndarray, geometry, ignore: int = IGNORE) -> np.ndarray:
    """A mask after a geometric augmentation (`geometry.matrix` maps input to output positions, in pixel
    index units): each output pixel takes the class of the nearest source pixel; pixels brought in from
    outside the mask (a shift, a rotation's corners) get the ignore index, since nothing labels them."""
    inverse = np.linalg.inv(np.asarray(geometry.matrix, np.float64))
    grid = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in mask.shape], indexing="ij"), -1)
    source = np.rint(grid @ inverse[:-1, :-1].T + inverse[:-1, -1]).astype(np.int64)
    inside = np.all((source >= 0) & (source < np.array(mask.shape)), axis=-1)
    picked = mask[tuple(np.clip(source[..., a], 0, n - 1) for a, n in enumerate(mask.shape))]
    return np.where(inside, picked, ignore).astype(mask.dtype)


def flip_matrix(size, axes) -> np.ndarray:
    """The geometry (input to output positions) of flipping the spatial `axes` of an example of `size`."""
    matrix = np.eye(len(size) + 1)
    for axis in axes:
        matrix[axis, axis], matrix[axis, -1] = -1.0, size[axis] - 1.0
    return matrix


def random_flips(x: np.ndarray, probability: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Flip each spatial axis of a channels-last example with `probability` (3D volumes have no up or
    left, so every axis is a mirror): the example and the geometry for its mask."""
    axes = [a for a in range(x.ndim - 1) if rng.random() < probability]
    return (np.flip(x, axis=axes) if axes else x), flip_matrix(x.shape[:-1], axes)


def image_paths(folder: Path) -> list[Path]:
    """The image files of a folder, sorted (what --predict labels)."""
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise DataError(f"{folder}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return files


def read_image(path: Path, channels: int) -> np.ndarray:
    """An image at its own size, H x W x channels uint8 (grey, RGB or RGBA as the model takes)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert({1: "L", 3: "RGB", 4: "RGBA"}[channels])).reshape(
                image.size[1], image.size[0], channels
            )
    except Exception as exc:
        raise DataError(f"cannot read image {path}: {exc}") from None
