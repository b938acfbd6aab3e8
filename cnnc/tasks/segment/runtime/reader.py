"""The segmentation task's Reader: masks from an images/ + masks/ folder or from .npz arrays, checked
against the class list, stored at the model's input size, moved with the image's augmentation.

masks.py has the file format; the shared runtime (data.py) asks a reader for `files`, `arrays`,
`class_names`, `strata` and `follow`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...runtime.data import DataError
from .masks import (
    IMAGE_EXTENSIONS,
    MaskSizeError,
    MissingMaskError,
    check_values,
    follow,
    read_classes,
    read_mask,
    resize_nearest,
)
from .metrics import IGNORE


class Reader:
    """Masks for a model whose input's spatial size is `spatial` and whose head has `classes` classes
    (the class list of classes.txt or of the .npz, where there is one, takes precedence)."""

    def __init__(self, spatial, classes: int, ignore: int = IGNORE):
        self.spatial, self.classes, self.ignore = tuple(int(n) for n in spatial), int(classes), int(ignore)
        self.names: list[str] | None = None
        self.colours = None

    # ------------------------------------------------------------ files

    def files(self, path: Path):
        from ...runtime.data import Source  # the task-neutral runtime's record of what a reader found

        paths, masks = self.scan(path)
        return Source(masks, paths=paths, class_names=self.class_names({}, masks, path))

    def scan(self, root: Path) -> tuple[list[str], np.ndarray]:
        """Image paths and their masks (N x H x W at the model's size) of an images/ + masks/ folder."""
        images, masks = root / "images", root / "masks"
        if not images.is_dir() or not masks.is_dir():
            raise DataError(
                f"{root}: a segmentation folder holds images/ and masks/ (index PNGs named as the "
                "images), and optionally classes.txt"
            )
        if (root / "classes.txt").is_file():
            self.names, self.colours = read_classes(root / "classes.txt")
        by_stem = {p.stem: p for p in masks.iterdir() if p.suffix.lower() == ".png"}
        files = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise DataError(f"{images}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        return [str(p) for p in files], self._stack([self._mask_of(image, by_stem, masks) for image in files])

    def _mask_of(self, image: Path, by_stem: dict, folder: Path) -> np.ndarray:
        from PIL import Image

        if image.stem not in by_stem:
            raise MissingMaskError(f"{image}: no mask for this image (looked for {folder / (image.stem + '.png')})")
        path = by_stem[image.stem]
        mask = read_mask(path, self.colours)
        try:
            with Image.open(image) as opened:
                width, height = opened.size
        except Exception as exc:
            raise DataError(f"cannot read image {image}: {exc}") from None
        if mask.shape != (height, width):
            raise MaskSizeError(
                f"{path}: the mask is {mask.shape[1]}x{mask.shape[0]} pixels but its image {image} is "
                f"{width}x{height} (width x height); a mask labels its image pixel for pixel"
            )
        check_values(mask, self.count, self.ignore, str(path), self._listed)
        return resize_nearest(mask, self.spatial) if mask.shape != self.spatial else mask

    @property
    def count(self) -> int:
        return len(self.names) if self.names else self.classes

    @property
    def _listed(self) -> str:
        return "classes.txt" if self.names else f"the spec's {self.classes} classes"

    def _stack(self, masks: list[np.ndarray]) -> np.ndarray:
        fits = self.count <= 256 and 0 <= self.ignore < 256
        return np.stack([m.astype(np.uint8 if fits else np.int32) for m in masks])

    # ------------------------------------------------------------ arrays

    def arrays(self, arrays: dict, suffix: str, count: int, path: Path) -> np.ndarray:
        key = next((k + suffix for k in ("masks", "y") if k + suffix in arrays), None)
        if key is None:
            raise DataError(
                f"{path} needs `x{suffix}` and `masks{suffix}` (N x H x W, or N x D x H x W, class "
                f"indices); it has {', '.join(sorted(arrays))}"
            )
        masks = np.asarray(arrays[key])
        size = self._image_size(arrays, suffix, masks)
        if masks.ndim == len(size) + 2 and masks.shape[-1] == 1:
            masks = masks[..., 0]
        if masks.shape != (count, *size):
            raise MaskSizeError(
                f"{path}: `{key}` is {'x'.join(map(str, masks.shape))} but the images are {count} of "
                f"{'x'.join(map(str, size))}; a mask labels its image pixel for pixel"
            )
        if masks.dtype.kind == "f" and not np.array_equal(masks, np.round(masks)):
            raise DataError(f"{path}: `{key}` holds fractions; masks hold class indices")
        masks = masks.astype(np.int64)
        if "class_names" in arrays:
            self.names = [str(n) for n in arrays["class_names"]]
        for i, mask in enumerate(masks):
            check_values(mask, self.count, self.ignore, f"{path}: {key}[{i}]", self._listed_npz)
        if size != self.spatial:
            masks = np.stack([resize_nearest(m, self.spatial) for m in masks]) if len(masks) else masks
        return self._stack(list(masks)) if len(masks) else masks.reshape(0, *self.spatial).astype(np.uint8)

    @property
    def _listed_npz(self) -> str:
        return "class_names" if self.names else f"the spec's {self.classes} classes"

    def _image_size(self, arrays: dict, suffix: str, masks: np.ndarray) -> tuple[int, ...]:
        x = next((arrays[k + suffix] for k in ("x", "images", "X", "data") if k + suffix in arrays), None)
        if x is None:
            return tuple(masks.shape[1:])
        rank = len(self.spatial)
        return tuple(x.shape[1 : 1 + rank])  # channels, where x has them, come after the spatial axes

    # ------------------------------------------------------------ what the shared runtime asks

    def class_names(self, arrays: dict, targets: np.ndarray, path: Path) -> list[str]:
        if "class_names" in arrays:
            return [str(n) for n in arrays["class_names"]]
        return list(self.names) if self.names else [str(k) for k in range(self.classes)]

    def strata(self, targets: np.ndarray) -> np.ndarray:
        """Per example its most frequent class other than 0 (the background, by convention), so the split
        keeps e.g. digits balanced; 0 when the mask is all background."""
        out = np.zeros(len(targets), dtype=np.int64)
        for i, mask in enumerate(targets):
            counts = np.bincount(mask[mask != self.ignore].reshape(-1).astype(np.int64), minlength=2)
            out[i] = int(counts[1:].argmax()) + 1 if counts[1:].any() else 0
        return out

    def follow(self, target: np.ndarray, geometry) -> np.ndarray:
        return follow(target, geometry, self.ignore)
