"""Data for the harnesses: sources, the split, scaling, batches; the targets are the task's.

Layout is channels-last throughout (H x W x C, L x C, D x H x W x C, as specs
write shapes); the framework file moves channels where its layout wants them.

What an example's target is (a class, a box, points, a mask) only the task
knows: it brings a `Reader` (see below) that finds examples and their targets
in files, reads targets from .npz arrays, says what to stratify the split by,
and moves targets with a geometric augmentation.  Everything here works on an
array of targets, one row per example, whatever its shape.

- Files (a folder of class subfolders, an image folder with a label file, ...):
  the reader lists the image files and their targets; images are decoded on
  access, in the loader's workers, and resized to the spec's input.  Every
  file is checked once up front (`PIL.Image.verify`) so a corrupt file is
  named before training starts; one that still fails to decode later is named
  too.
- A `.npz` file with the examples as `x` (or `images`, `X`, `data`) and the
  targets as the reader wants them, or already split as `x_train`, `x_val`,
  `x_test` with the reader's arrays suffixed the same way.  2D images of
  another size are resized; 1D signals and 3D volumes must match the spec's
  input (a missing channel axis is added).
- The split is stratified and seeded: per stratum (the reader's `strata`), a
  seeded permutation, then the test, validation and training shares (`round`
  of the stratum's count).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

PREPARE_LIMIT = 2 << 30  # bytes: in-memory data up to this size is prepared once as float32 when not augmented
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
_PIL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


class DataError(Exception):
    """A problem with the user's data, reported as one clear message (no traceback)."""


@dataclass
class Source:
    """Examples a reader found: image files (decoded on access) or arrays, with one target row each."""

    targets: np.ndarray
    paths: list[str] | None = None
    images: np.ndarray | None = None
    class_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Reader(Protocol):
    """A task's targets: where they come from, what the split keeps balanced, how they follow the image."""

    def files(self, path: Path) -> Source: ...  # a folder or label file of the task's own format
    def arrays(self, arrays: dict[str, np.ndarray], suffix: str, count: int, path: Path) -> np.ndarray: ...
    def class_names(self, arrays: dict[str, np.ndarray], targets: np.ndarray, path: Path) -> list[str]: ...
    def strata(self, targets: np.ndarray) -> np.ndarray: ...  # an integer per example: the split balances them
    def follow(self, target: np.ndarray, geometry) -> np.ndarray: ...  # one target after augment.Geometry

    # optional: split(targets, fractions, seed) -> [train, val, test] indices, in place of the stratified split


@dataclass
class Split:
    """One part of the data: targets plus images in memory or image files decoded on access."""

    name: str
    targets: np.ndarray
    images: np.ndarray | None = None  # N x shape, uint8 or float32
    paths: list[str] | None = None

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def in_memory(self) -> bool:
        return self.images is not None

    def load(self, indices: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """Raw examples (uint8 or float32) at `shape` (channels-last)."""
        if self.images is not None:
            batch = self.images[indices]
            if batch.shape[1:] != tuple(shape):
                batch = np.stack([resize_image(image, shape[:2]) for image in batch])
            return batch
        return np.stack([decode_image(self.paths[i], shape) for i in indices])


@dataclass
class Data:
    train: Split
    val: Split
    test: Split
    class_names: list[str]  # the task's class names, where it has classes (else empty)
    shape: tuple[int, ...]  # channels-last input shape of the model
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def describe(self) -> str:
        dims = "x".join(str(d) for d in self.shape)
        classes = f", {self.num_classes} classes" if self.class_names else ""
        return (
            f"data: {self.source}: {len(self.train) + len(self.val) + len(self.test)} examples of {dims}"
            f"{classes}; split {len(self.train)}/{len(self.val)}/{len(self.test)} "
            f"(train/val/test)" + "".join(f"\n  {note}" for note in self.notes)
        )


def load(
    path: str | None,
    shape: tuple[int, ...],
    fractions: tuple[float, float, float],
    seed: int,
    reader: Reader,
    skip_corrupt: bool = False,
) -> Data:
    """The data at `path` (the task's files, or .npz), split and shaped for a model with input `shape`."""
    if not path:
        raise DataError("no data: give --data PATH (a folder or label file in the task's format, or a .npz file)")
    source = Path(path)
    if source.suffix == ".npz" and source.is_file():
        return _load_npz(source, shape, fractions, seed, reader)
    if not source.exists():
        raise DataError(f"cannot use --data {path}: no such file or folder")
    return _load_files(source, reader.files(source), shape, fractions, seed, reader, skip_corrupt)


# ---------------------------------------------------------------- image files


def image_files(folder: Path) -> list[Path]:
    """The image files under a folder, sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def find_corrupt(paths: list[str]) -> list[tuple[str, str]]:
    """(path, reason) for each file that PIL cannot decode, once, up front.

    Decoded whole (`load`), not only `verify`-ed: a file whose header checks out but whose compressed
    data is broken failed only when its batch came, past --skip-corrupt.
    """
    from PIL import Image

    bad = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image.load()
        except Exception as exc:  # PIL raises many types for bad files; each is the user's file, not our bug
            bad.append((path, _reason(exc)))
    return bad


def drop_empty_classes(targets: np.ndarray, names: list[str], notes: list[str]) -> tuple[np.ndarray, list[str]]:
    """Class-index targets and their names without the classes left with no example (said in a note)."""
    if not names or targets.ndim != 1 or targets.dtype.kind not in "iu" or not len(targets):
        return targets, names
    present = np.unique(targets)
    if len(present) == len(names):
        return targets, names
    empty = [names[i] for i in range(len(names)) if i not in set(present.tolist())]
    notes.append(
        f"dropped {len(empty)} class(es) with no example left: {', '.join(empty[:10])}"
        + (" ..." if len(empty) > 10 else "")
    )
    remap = np.full(len(names), -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    return remap[targets], [names[i] for i in present]


def _reason(exc: Exception) -> str:
    return str(exc).split("\n")[0] or type(exc).__name__


def decode_image(path: str, shape: tuple[int, ...]) -> np.ndarray:
    """One image file as uint8 H x W x C at the model's size; DataError names the file."""
    from PIL import Image

    if len(shape) != 3 or shape[2] not in _PIL_MODES:
        raise DataError(f"image files need a 2D input with 1, 3 or 4 channels, the model takes {shape}")
    try:
        with Image.open(path) as image:
            image = image.convert(_PIL_MODES[shape[2]])
            if image.size != (shape[1], shape[0]):
                image = image.resize((shape[1], shape[0]), Image.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
    except Exception as exc:
        raise DataError(f"cannot read image {path}: {_reason(exc)}") from None
    return array.reshape(shape)


def _load_files(root: Path, found: Source, shape, fractions, seed, reader: Reader, skip_corrupt) -> Data:
    paths, targets, notes = found.paths, found.targets, list(found.notes)
    bad = find_corrupt(paths)
    if bad:
        listing = "\n".join(f"  {p}: {why}" for p, why in bad)
        if not skip_corrupt:
            raise DataError(
                f"{len(bad)} unreadable image file(s):\n{listing}\n"
                "help: remove or replace them, or pass --skip-corrupt to leave them out"
            )
        keep = np.ones(len(paths), dtype=bool)
        keep[[paths.index(p) for p, _ in bad]] = False
        paths = [p for p, k in zip(paths, keep, strict=True) if k]
        targets = targets[keep]
        notes.append(f"left out {len(bad)} unreadable file(s):\n{listing}")
    targets, names = drop_empty_classes(targets, list(found.class_names), notes)
    parts = split_for(reader, targets, fractions, seed)
    splits = [Split(name, targets[idx], paths=[paths[i] for i in idx]) for name, idx in zip(_NAMES, parts, strict=True)]
    return Data(*splits, class_names=names, shape=tuple(shape), source=str(root), notes=notes)


# ---------------------------------------------------------------- .npz arrays

_NAMES = ("train", "val", "test")
_X_KEYS = ("x", "images", "X", "data")


def _load_npz(path: Path, shape, fractions, seed, reader: Reader) -> Data:
    try:
        arrays = dict(np.load(path, allow_pickle=False))
    except Exception as exc:
        raise DataError(f"cannot read {path}: {_reason(exc)}") from None
    notes: list[str] = []
    if all(f"x_{n}" in arrays for n in _NAMES):
        images = {n: _conform(arrays[f"x_{n}"], shape, path, notes) for n in _NAMES}
        targets = {n: reader.arrays(arrays, f"_{n}", len(images[n]), path) for n in _NAMES}
        splits = [Split(n, targets[n], images=images[n]) for n in _NAMES]
        every = np.concatenate(list(targets.values()))
    else:
        key = next((k for k in _X_KEYS if k in arrays), None)
        if key is None:
            raise DataError(
                f"{path} needs the examples as `x` (or x_train, x_val, x_test) and the targets; "
                f"it has {', '.join(sorted(arrays)) or 'none'}"
            )
        x = _conform(arrays[key], shape, path, notes)
        every = reader.arrays(arrays, "", len(x), path)
        parts = split_for(reader, every, fractions, seed)
        splits = [Split(n, every[idx], images=x[idx]) for n, idx in zip(_NAMES, parts, strict=True)]
    names = reader.class_names(arrays, every, path)
    return Data(*splits, class_names=names, shape=tuple(shape), source=str(path), notes=notes)


def _conform(x: np.ndarray, shape: tuple[int, ...], path: Path, notes: list[str]) -> np.ndarray:
    """Arrays at the model's channels-last input shape: add a channel axis, resize 2D images."""
    x = np.asarray(x)
    if x.dtype != np.uint8:
        x = x.astype(np.float32)
    want = tuple(shape)
    if x.ndim == len(want) and want[-1] == 1:
        x = x[..., None]
    if x.ndim != len(want) + 1:
        raise DataError(f"{path}: arrays of {x.shape[1:]} per example do not fit the model's input {want}")
    if x.shape[1:] == want:
        return x
    if len(want) == 3 and x.shape[-1] in (want[-1], 1):
        notes.append(f"resized {'x'.join(map(str, x.shape[1:]))} to {'x'.join(map(str, want))}")
        resized = np.stack([resize_image(image, want[:2]) for image in x])
        if resized.shape[-1] != want[-1]:
            resized = np.repeat(resized, want[-1], axis=-1)
        return resized
    raise DataError(f"{path}: examples of shape {x.shape[1:]} do not fit the model's input {want}")


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """H x W x C uint8 or float32 to size[0] x size[1] x C, bilinear."""
    from PIL import Image

    h, w = int(size[0]), int(size[1])
    if image.dtype == np.uint8 and image.shape[-1] in _PIL_MODES:
        mode = _PIL_MODES[image.shape[-1]]
        pil = Image.fromarray(image[..., 0] if mode == "L" else image, mode)
        return np.asarray(pil.resize((w, h), Image.BILINEAR)).reshape(h, w, image.shape[-1])
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), "F").resize((w, h), Image.BILINEAR)
        )
        for c in range(image.shape[-1])
    ]
    return np.stack(channels, axis=-1).astype(image.dtype)


# ---------------------------------------------------------------- the split, scaling


def split_for(reader: Reader, targets: np.ndarray, fractions: tuple[float, float, float], seed: int) -> list:
    """The reader's own split where it has one (verification splits by identity, never by image), else the
    stratified split on its strata."""
    own = getattr(reader, "split", None)
    return own(targets, fractions, seed) if own else stratified_split(reader.strata(targets), fractions, seed)


def stratified_split(strata: np.ndarray, fractions: tuple[float, float, float], seed: int) -> list[np.ndarray]:
    """Train, validation and test indices: per stratum a seeded permutation, shares rounded per stratum."""
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for stratum in np.unique(strata):
        idx = rng.permutation(np.flatnonzero(strata == stratum))
        n_test = int(round(len(idx) * fractions[2]))
        n_val = int(round(len(idx) * fractions[1]))
        if n_test + n_val >= len(idx) and fractions[0] > 0:  # keep at least one training example
            n_test, n_val = min(n_test, len(idx) - 1), max(0, min(n_val, len(idx) - 1 - n_test))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test : n_test + n_val])
        parts[0].append(idx[n_test + n_val :])
    return [np.sort(np.concatenate(p)).astype(np.int64) if p else np.zeros(0, np.int64) for p in parts]


@dataclass
class Normalizer:
    """x * scale, then (x - mean) / std per channel; `scale` brings pixels to [0, 1]."""

    scale: float = 1.0
    mean: list[float] | None = None
    std: list[float] | None = None

    @classmethod
    def fit(cls, mode: str, split: Split, shape: tuple[int, ...], sample: int = 512, seed: int = 0) -> Normalizer:
        if mode == "none":
            return cls()
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(len(split), size=min(sample, len(split)), replace=False))
        x = split.load(idx, shape)
        if x.dtype == np.uint8 or split.paths is not None:
            scale = 1 / 255
        else:
            peak = float(np.abs(split.images).max()) if split.images is not None and len(split.images) else 1.0
            scale = 1.0 / peak if peak > 1.0 else 1.0
        norm = cls(scale)
        if mode in ("center", "standardize") and len(x):
            flat = x.reshape(-1, x.shape[-1]).astype(np.float64) * scale
            norm.mean = flat.mean(axis=0).tolist()
            if mode == "standardize":
                norm.std = np.maximum(flat.std(axis=0), 1e-6).tolist()
        return norm

    def scaled(self, raw: np.ndarray) -> np.ndarray:
        x = raw.astype(np.float32)
        if self.scale != 1.0:
            x *= np.float32(self.scale)
        return x

    def standardize(self, x: np.ndarray) -> np.ndarray:
        if self.mean is not None:
            x -= np.asarray(self.mean, dtype=np.float32)
        if self.std is not None:
            x /= np.asarray(self.std, dtype=np.float32)
        return x

    def to_json(self) -> str:
        return json.dumps({"scale": self.scale, "mean": self.mean, "std": self.std})


# ---------------------------------------------------------------- batches


class Pipeline:
    """Batches of one split, ready for a model: raw -> [0, 1] -> augmented (training) -> centred/standardised."""

    def __init__(self, data: Data, normalizer: Normalizer, augment, seed: int, follow=None):
        self.data, self.normalizer, self.augment, self.seed = data, normalizer, augment, seed
        self.follow = follow  # the reader's follow(target, geometry), or None: targets that no geometry moves

    def batch(self, split: Split, indices: np.ndarray, epoch: int, train: bool) -> tuple[np.ndarray, np.ndarray]:
        x = self.normalizer.scaled(split.load(indices, self.data.shape))
        targets = split.targets[indices]
        if train and self.augment is not None and self.augment.active:
            x, targets = self._augmented(x, targets, indices, epoch)
        return self.normalizer.standardize(x), targets

    def _augmented(self, x, targets, indices, epoch):
        from .augment import example_rng

        images, moved = [], []
        for example, target, i in zip(x, targets, indices, strict=True):
            image, geometry = self.augment.apply(example, example_rng(self.seed, epoch, int(i)))
            images.append(image)
            moved.append(self.follow(target, geometry) if self.follow and geometry.moved else target)
        return np.stack(images), np.stack(moved).astype(targets.dtype, copy=False)

    def ten_crop_batch(self, split: Split, indices: np.ndarray, scale: float) -> np.ndarray:
        """10 crops per example (example-major: 10 rows for the first example, then the next)."""
        from .augment import ten_crops

        h, w, c = self.data.shape
        big = (max(h, int(round(h * scale))), max(w, int(round(w * scale))), c)
        raw = self.normalizer.scaled(split.load(indices, big))
        crops = np.concatenate([ten_crops(example, (h, w)) for example in raw])
        return self.normalizer.standardize(crops)


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """The order of an epoch's examples: a permutation seeded by (seed, epoch)."""
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng((seed, 7919, epoch)).permutation(n)


def batch_indices(
    n: int,
    batch_size: int,
    seed: int,
    epoch: int,
    shuffle: bool,
    rank: int = 0,
    world: int = 1,
    drop_last: bool = False,
) -> list[np.ndarray]:
    """This process's batches of an epoch.  With several processes each gets an equal share of every global
    batch (the order is padded by repeating its start, as torch's DistributedSampler does)."""
    order = epoch_order(n, seed, epoch, shuffle)
    if world > 1:
        total = -(-n // world) * world
        order = np.concatenate([order, order[: total - n]])[rank::world]
        batch_size = max(1, batch_size // world)
    cuts = range(0, len(order), batch_size)
    batches = [order[i : i + batch_size] for i in cuts]
    if drop_last and len(batches) > 1 and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def task_order(task, split: Split):
    """The task's training batches as `order(epoch, rank, world)`, where it chooses them (`task.train_batches`
    of the split's targets: verification's P identities x K images); None: the shuffled batches above."""
    own = getattr(task, "train_batches", None)
    return (lambda epoch, rank, world: own(split.targets, epoch, rank, world)) if own else None


def prepare(cfg, shape: tuple[int, ...], reader: Reader) -> tuple[Data, Pipeline]:
    """Load and split the data, fit scaling (and PCA colour) on the training split."""
    from .augment import Augment
    from .config import ConfigError, split_fractions

    try:
        fractions = split_fractions(cfg.split)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    data = load(cfg.data, tuple(shape), fractions, cfg.seed, reader, cfg.skip_corrupt)
    if not len(data.train):
        raise DataError(f"{data.source}: no training examples after the split {cfg.split}")
    augment = Augment.from_config(cfg)
    problems = augment.problems(data.shape)
    if problems:
        raise ConfigError("; ".join(problems) + f" (the model's input is {'x'.join(map(str, data.shape))})")
    normalizer = Normalizer.fit(cfg.normalize, data.train, data.shape, seed=cfg.seed)
    if augment.pca_color:
        rng = np.random.default_rng(cfg.seed)
        idx = np.sort(rng.choice(len(data.train), size=min(256, len(data.train)), replace=False))
        pixels = normalizer.scaled(data.train.load(idx, data.shape)).reshape(-1, data.shape[-1])
        augment.fit_pca(pixels[rng.choice(len(pixels), size=min(100_000, len(pixels)), replace=False)])
    return data, Pipeline(data, normalizer, augment, cfg.seed, getattr(reader, "follow", None))
