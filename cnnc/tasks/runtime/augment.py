"""The augmentations of the material, on one channels-last example, in numpy.

Each is switched by its strength (0 = off) and draws from a generator seeded
with (seed, epoch, example index), so an epoch's augmentations do not depend on
which worker loads which batch, or on whether the run was resumed: resuming
gives the same numbers as running through.

Geometry first (mirror, random crop, then one affine warp for rotation, shear,
zoom and shift, sampled bilinearly with edge pixels repeated, as Keras'
ImageDataGenerator fill_mode="nearest"), then colour (brightness, contrast,
per-channel shift, AlexNet's PCA colour), then noise.  Pixels are in [0, 1]
units here (before centering), so strengths mean the same for every dataset.

Signals (L x C) and volumes (D x H x W x C) take what makes sense for them:
mirrors per axis (`flip`: the last spatial axis, width or time;
`flip_vertical`: height; `flip_depth`: a volume's depth), the random crop,
zoom (one stretch along every axis about the centre), whole-position shifts,
amplitude scaling, brightness, contrast and noise; rotation and shear need a
2D image.

`Augment.apply` also returns the geometry it applied (`Geometry`: one affine
map from input positions to output positions), so a task's targets follow the
image: boxes and points through `Geometry.points`, masks through
`Geometry.image`.  Colour and noise move nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

_IMAGE_ONLY = ("rotate", "shear")  # need a 2D image
_AXES = {"flip_vertical": (2, "2D images or 3D volumes"), "flip_depth": (3, "3D volumes")}  # the rank they need
_COLOR_ONLY = ("pca_color",)  # needs three channels


@dataclass
class Augment:
    flip: float = 0.0
    flip_vertical: float = 0.0
    flip_depth: float = 0.0
    crop: int = 0
    rotate: float = 0.0
    shear: float = 0.0
    zoom: float = 0.0
    shift: float = 0.0
    amplitude: float = 0.0
    color_shift: float = 0.0
    pca_color: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    noise: float = 0.0
    pca_std: np.ndarray | None = None  # std along each RGB principal component
    pca_vectors: np.ndarray | None = None  # columns: the components

    @classmethod
    def from_config(cls, cfg) -> Augment:
        names = [f.name for f in fields(cls) if not f.name.startswith("pca_") or f.name == "pca_color"]
        return cls(**{name: getattr(cfg, name) for name in names})

    @property
    def active(self) -> bool:
        return any(
            getattr(self, f.name) for f in fields(self) if not f.name.startswith("pca_") or f.name == "pca_color"
        )

    def problems(self, shape: tuple[int, ...]) -> list[str]:
        """Switched-on augmentations that cannot apply to examples of this shape."""
        out = []
        if len(shape) != 3:
            out += [f"--{n.replace('_', '-')} needs 2D images" for n in _IMAGE_ONLY if getattr(self, n)]
        out += [
            f"--{n.replace('_', '-')} needs {what}"
            for n, (rank, what) in _AXES.items()
            if getattr(self, n) and len(shape) - 1 < rank
        ]
        if shape[-1] != 3:
            out += [f"--{n.replace('_', '-')} needs RGB images" for n in _COLOR_ONLY if getattr(self, n)]
        return out

    def fit_pca(self, pixels: np.ndarray) -> None:
        """The RGB principal components of training pixels (M x 3, in [0, 1])."""
        cov = np.cov(pixels.astype(np.float64), rowvar=False)
        values, vectors = np.linalg.eigh(cov)
        self.pca_std = np.sqrt(np.maximum(values, 0.0)).astype(np.float32)
        self.pca_vectors = vectors.astype(np.float32)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.apply(x, rng)[0]

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Geometry]:
        """The augmented example and the geometry it went through (targets follow with it)."""
        geometry = Geometry.identity(x.shape[:-1])
        x = self._geometric(x, rng, geometry)
        x = np.array(x, dtype=np.float32)  # own, contiguous memory from here on
        return self._photometric(x, rng), geometry

    def _geometric(self, x: np.ndarray, rng: np.random.Generator, geometry: Geometry) -> np.ndarray:
        spatial = x.ndim - 1
        if self.flip and rng.random() < self.flip:
            x = np.flip(x, axis=spatial - 1)  # the last spatial axis: width, or time
            geometry.flip(spatial - 1)
        if self.flip_vertical and rng.random() < self.flip_vertical:
            x = np.flip(x, axis=spatial - 2)  # height: the first axis of an image, the second of a volume
            geometry.flip(spatial - 2)
        if self.flip_depth and rng.random() < self.flip_depth:
            x = np.flip(x, axis=0)
            geometry.flip(0)
        if self.crop:
            x, starts = random_crop(x, self.crop, rng, with_starts=True)
            geometry.translate([self.crop - s for s in starts])
        if spatial == 2 and (self.rotate or self.shear or self.zoom or self.shift):
            matrix = self._affine(x.shape[:2], rng)
            x = warp_affine(x, matrix)
            geometry.warp(matrix)
            return x
        if self.zoom:  # signals and volumes: the same stretch along every axis, about the centre
            factor = rng.uniform(1 - self.zoom, 1 + self.zoom)
            x = zoom_axes(x, factor)
            geometry.zoom(factor)
        if self.shift:
            offsets = [int(round(rng.uniform(-self.shift, self.shift) * n)) for n in x.shape[:-1]]
            x = shift(x, offsets)
            geometry.translate(offsets)
        return x

    def _photometric(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.amplitude:
            x *= np.float32(rng.uniform(1 - self.amplitude, 1 + self.amplitude))
        if self.brightness:
            x += np.float32(rng.uniform(-self.brightness, self.brightness))
        if self.contrast:
            mean = x.mean()
            x = (x - mean) * np.float32(rng.uniform(1 - self.contrast, 1 + self.contrast)) + mean
        if self.color_shift:
            x += rng.uniform(-self.color_shift, self.color_shift, size=x.shape[-1]).astype(np.float32)
        if self.pca_color and self.pca_vectors is not None:
            # AlexNet (Krizhevsky et al. 2012, sec. 4.1): add p @ (alpha * lambda), alpha ~ N(0, sigma)
            alpha = rng.normal(0.0, self.pca_color, size=3).astype(np.float32)
            x += self.pca_vectors @ (alpha * self.pca_std)
        if self.noise:
            x += rng.normal(0.0, self.noise, size=x.shape).astype(np.float32)
        return x

    def _affine(self, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """A 2x3 matrix from output (row, col) to input (row, col), about the image centre."""
        theta = math.radians(rng.uniform(-self.rotate, self.rotate)) if self.rotate else 0.0
        phi = math.radians(rng.uniform(-self.shear, self.shear)) if self.shear else 0.0
        zoom = rng.uniform(1 - self.zoom, 1 + self.zoom) if self.zoom else 1.0
        shifts = [rng.uniform(-self.shift, self.shift) * n for n in size] if self.shift else [0.0, 0.0]
        rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
        shear = np.array([[1.0, 0.0], [math.tan(phi), 1.0]])
        linear = rotation @ shear / zoom
        centre = (np.array(size, dtype=np.float64) - 1) / 2
        offset = centre - linear @ centre + np.array(shifts)
        return np.concatenate([linear, offset[:, None]], axis=1)


def warp_affine(x: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """H x W x C sampled at matrix @ (row, col, 1), bilinear, edge pixels repeated outside."""
    h, w = x.shape[:2]
    rows, cols = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    src_r = np.clip(matrix[0, 0] * rows + matrix[0, 1] * cols + matrix[0, 2], 0, h - 1)
    src_c = np.clip(matrix[1, 0] * rows + matrix[1, 1] * cols + matrix[1, 2], 0, w - 1)
    r0 = np.floor(src_r).astype(np.int64)
    c0 = np.floor(src_c).astype(np.int64)
    r1 = np.minimum(r0 + 1, h - 1)
    c1 = np.minimum(c0 + 1, w - 1)
    fr = (src_r - r0)[..., None].astype(np.float32)
    fc = (src_c - c0)[..., None].astype(np.float32)
    top = x[r0, c0] * (1 - fc) + x[r0, c1] * fc
    bottom = x[r1, c0] * (1 - fc) + x[r1, c1] * fc
    return (top * (1 - fr) + bottom * fr).astype(np.float32)


def zoom_axes(x: np.ndarray, factor: float) -> np.ndarray:
    """Stretch every spatial axis by `factor` about the centre (linear, edge values repeated): content at
    position p moves to c + factor * (p - c), as Geometry.zoom says."""
    for axis in range(x.ndim - 1):
        n = x.shape[axis]
        centre = (n - 1) / 2
        source = np.clip(centre + (np.arange(n) - centre) / factor, 0, n - 1)
        low = np.floor(source).astype(np.int64)
        high = np.minimum(low + 1, n - 1)
        along = [1] * x.ndim
        along[axis] = n
        weight = (source - low).reshape(along).astype(np.float32)
        x = np.take(x, low, axis=axis) * (1 - weight) + np.take(x, high, axis=axis) * weight
    return x.astype(np.float32)


def random_crop(x: np.ndarray, pad: int, rng: np.random.Generator, with_starts: bool = False):
    """Pad every spatial axis by `pad` (reflect) and crop back to the same size at a random place
    (with `with_starts`, also where the crop starts in the padded example, per axis)."""
    spatial = x.ndim - 1
    padded = np.pad(x, [(pad, pad)] * spatial + [(0, 0)], mode="reflect" if min(x.shape[:-1]) > pad else "edge")
    starts = rng.integers(0, 2 * pad + 1, size=spatial)
    crop = padded[tuple(slice(s, s + n) for s, n in zip(starts, x.shape[:-1], strict=True))]
    return (crop, [int(s) for s in starts]) if with_starts else crop


def shift(x: np.ndarray, offsets: list[int]) -> np.ndarray:
    """Move the content by whole positions along each spatial axis, repeating edge values."""
    pad = [(max(o, 0), max(-o, 0)) for o in offsets] + [(0, 0)]
    padded = np.pad(x, pad, mode="edge")
    return padded[tuple(slice(after, after + n) for (_, after), n in zip(pad, x.shape[:-1], strict=False))]


def ten_crops(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The 10 crops of the material (AlexNet): four corners and the centre, and their mirrors."""
    h, w = x.shape[:2]
    ch, cw = size
    origins = [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw), ((h - ch) // 2, (w - cw) // 2)]
    crops = [x[r : r + ch, c : c + cw] for r, c in origins]
    return np.stack(crops + [crop[:, ::-1] for crop in crops])


def example_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    return np.random.default_rng((seed, epoch, index))


class Geometry:
    """Where each input position went: output = matrix @ (position, 1), positions as (row, col[, ...]) in
    pixel index units (a pixel's centre is its index).  Built step by step as the augmentations run."""

    def __init__(self, size: tuple[int, ...], matrix: np.ndarray):
        self.size, self.matrix = tuple(int(n) for n in size), matrix

    @classmethod
    def identity(cls, size: tuple[int, ...]) -> Geometry:
        return cls(size, np.eye(len(size) + 1))

    def _then(self, step: np.ndarray) -> None:
        self.matrix = step @ self.matrix

    def flip(self, axis: int) -> None:
        step = np.eye(len(self.size) + 1)
        step[axis, axis], step[axis, -1] = -1.0, self.size[axis] - 1.0
        self._then(step)

    def translate(self, offsets: list[float]) -> None:
        step = np.eye(len(self.size) + 1)
        step[:-1, -1] = offsets
        self._then(step)

    def zoom(self, factor: float) -> None:
        """zoom_axes: every axis stretched by `factor` about its centre."""
        step = np.eye(len(self.size) + 1)
        for axis, n in enumerate(self.size):
            step[axis, axis], step[axis, -1] = factor, (n - 1) / 2 * (1 - factor)
        self._then(step)

    def warp(self, output_to_input: np.ndarray) -> None:
        """warp_affine's 2x3 matrix maps output to input positions: the image moved by its inverse."""
        step = np.eye(3)
        step[:2] = output_to_input
        self._then(np.linalg.inv(step))

    @property
    def moved(self) -> bool:
        return not np.allclose(self.matrix, np.eye(len(self.size) + 1))

    def points(self, positions: np.ndarray) -> np.ndarray:
        """M x S positions (pixel index units) where the augmentation put them."""
        positions = np.asarray(positions, dtype=np.float64)
        return positions @ self.matrix[:-1, :-1].T + self.matrix[:-1, -1]

    def image(self, mask: np.ndarray) -> np.ndarray:
        """A 2D mask (H x W x C) moved the same way (bilinear, edges repeated)."""
        inverse = np.linalg.inv(self.matrix)
        return warp_affine(mask.astype(np.float32), inverse[:2])
