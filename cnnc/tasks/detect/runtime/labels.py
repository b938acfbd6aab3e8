"""Detection targets: YOLO text labels, COCO JSON, .npz arrays, and boxes that follow augmentation.

A target is M x 5 per image, rows (class, cx, cy, w, h) as fractions of the
image, objects first, then padding rows with class -1 (M is --max-objects).

- YOLO text (Ultralytics, darknet): one `.txt` per image, a line `class cx cy
  w h` per object (normalised), beside the image or in a `labels/` folder
  that mirrors `images/`; the class names in `classes.txt` (or `obj.names`,
  `classes.names`), one a line, class ids counting from 0.  An image without a
  label file has no objects (said, with the count); a label file without an
  image is an error.
- COCO JSON (`--data instances.json`): `images` (id, file_name relative to the
  JSON's folder or its `images/`, width, height), `annotations` (image_id,
  category_id, bbox [x, y, w, h] in pixels), `categories` (id, name; classes
  in the order of their ids).  Crowd annotations are left out, and counted.
- .npz: `x` (images) and `boxes` (N x M' x 5 as above, class -1 for padding),
  optionally `class_names`.

Every mistake in a label is a DataError naming the file and line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ...runtime.data import IMAGE_EXTENSIONS, DataError

CLASS_FILES = ("classes.txt", "obj.names", "classes.names")
MIN_VISIBLE = 0.4  # a box an augmentation cuts is kept when this much of its area stays in the image
_TOLERANCE = 1e-6  # a normalised edge this far outside the image is rounding, not a mistake


class Found(NamedTuple):
    """What a label reader found: the targets (N x M x 5), the image files, the class names, notes to print."""

    targets: np.ndarray
    paths: list[str]
    class_names: list[str]
    notes: list[str]


def box_problem(cx: float, cy: float, w: float, h: float) -> str | None:
    """Why a normalised (cx, cy, w, h) box does not fit in the image, or None."""
    if w <= 0 or h <= 0:
        return f"box ({cx:.4g}, {cy:.4g}, {w:.4g}, {h:.4g}) has no area (w and h must be > 0)"
    edges = {"left": cx - w / 2, "top": cy - h / 2, "right": cx + w / 2, "bottom": cy + h / 2}
    for edge, value in edges.items():
        if (value < -_TOLERANCE) if edge in ("left", "top") else (value > 1 + _TOLERANCE):
            return (
                f"box ({cx:.4g}, {cy:.4g}, {w:.4g}, {h:.4g}) reaches outside the image: its {edge} edge is at "
                f"{value:.4g} (cx cy w h are fractions of the image, edges within 0..1)"
            )
    return None


def padded(objects: list[list[float]], max_objects: int, where: str) -> np.ndarray:
    """An image's objects as the M x 5 target (padding rows: class -1)."""
    if len(objects) > max_objects:
        raise DataError(
            f"{where}: {len(objects)} objects in one image, more than --max-objects {max_objects}; "
            f"help: pass --max-objects {len(objects)} or more"
        )
    out = np.zeros((max_objects, 5), dtype=np.float32)
    out[:, 0] = -1
    if objects:
        out[: len(objects)] = objects
    return out


# ---------------------------------------------------------------- YOLO text


def read_classes(folder: Path) -> list[str]:
    for name in CLASS_FILES:
        if (folder / name).is_file():
            return [line.strip() for line in (folder / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    raise DataError(
        f"{folder}: no class list ({' or '.join(CLASS_FILES)}: the class names, one a line, in the "
        f"order of the class ids 0, 1, ...)"
    )


def label_path(image: Path, root: Path) -> Path:
    """Where an image's label file is: `labels/` mirroring `images/` when the folder has one, else beside it."""
    parts = image.relative_to(root).parts
    if parts[0] == "images":
        return root.joinpath("labels", *parts[1:]).with_suffix(".txt")
    return image.with_suffix(".txt")


def read_label_file(path: Path, classes: int) -> list[list[float]]:
    """The objects of one label file; DataError at the first bad line."""
    objects = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{number}"
        try:
            values = [float(v) for v in fields]
        except ValueError:
            values = []
        if len(values) != 5:
            raise DataError(f"{where}: a label line is `class cx cy w h` (5 numbers), got {line.strip()!r}")
        if values[0] != int(values[0]) or not 0 <= values[0] < classes:
            raise DataError(
                f"{where}: class id {fields[0]} is out of range: the class list has {classes} "
                f"classes (ids 0..{classes - 1})"
            )
        problem = box_problem(*values[1:])
        if problem:
            raise DataError(f"{where}: {problem}")
        objects.append(values)
    return objects


def read_yolo(root: Path, max_objects: int) -> Found:
    names = read_classes(root)
    images = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    labels = {label_path(image, root): image for image in images}
    orphans = sorted(p for p in root.rglob("*.txt") if p not in labels and p.name not in CLASS_FILES)
    if orphans:
        listing = "\n".join(f"  {p}" for p in orphans[:10]) + (
            f"\n  ... {len(orphans) - 10} more" * (len(orphans) > 10)
        )
        raise DataError(
            f"{len(orphans)} label file(s) without an image (looked for an image of the same name, "
            f"under images/ for labels/):\n{listing}\nhelp: remove them, or add their images"
        )
    if not images:
        raise DataError(f"{root}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    targets, unlabelled = [], 0
    for label in labels:
        unlabelled += not label.is_file()
        objects = read_label_file(label, len(names)) if label.is_file() else []
        targets.append(padded(objects, max_objects, str(label)))
    notes = [f"{unlabelled} of {len(images)} images have no label file: read as images without objects"] * bool(
        unlabelled
    )
    return Found(np.stack(targets), [str(p) for p in labels.values()], names, notes)


# ---------------------------------------------------------------- COCO JSON


def _lines(text: str, key: str) -> list[int]:
    """The line of each occurrence of "key": in the text (a COCO file's nth bbox is its nth annotation's)."""
    return [text.count("\n", 0, m.start()) + 1 for m in re.finditer(rf'"{key}"\s*:', text)]


def read_coco(path: Path, max_objects: int) -> Found:
    try:
        text = path.read_text(encoding="utf-8")
        blob = json.loads(text)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if not isinstance(blob, dict) or not all(k in blob for k in ("images", "annotations", "categories")):
        raise DataError(f'{path}: a COCO file needs "images", "annotations" and "categories"')
    categories = sorted(blob["categories"], key=lambda c: c["id"])
    index = {c["id"]: i for i, c in enumerate(categories)}
    images = {im["id"]: im for im in blob["images"]}
    objects: dict[int, list[list[float]]] = {i: [] for i in images}
    lines, crowd = _lines(text, "bbox"), 0
    for n, ann in enumerate(blob["annotations"]):
        where = f"{path}:{lines[n] if n < len(lines) else 0}"
        if ann.get("iscrowd"):
            crowd += 1
            continue
        objects[_image_of(ann, images, where)].append(_coco_object(ann, images, index, where))
    found = [_image_file(path, im) for im in images.values()]
    targets = [padded(objects[i], max_objects, f"{path}: image {i}") for i in images]
    empty = sum(not found for found in objects.values())
    notes = [f"left out {crowd} crowd annotation(s) (iscrowd: 1)"] * bool(crowd)
    notes += [f"{empty} of {len(images)} images have no annotations: read as images without objects"] * bool(empty)
    return Found(np.stack(targets), found, [str(c["name"]) for c in categories], notes)


def _image_of(ann: dict, images: dict, where: str) -> int:
    if ann.get("image_id") not in images:
        raise DataError(
            f'{where}: annotation {ann.get("id")} refers to image_id {ann.get("image_id")}, which is not in "images"'
        )
    return ann["image_id"]


def _coco_object(ann: dict, images: dict, index: dict, where: str) -> list[float]:
    if ann.get("category_id") not in index:
        raise DataError(
            f"{where}: annotation {ann.get('id')} has category_id {ann.get('category_id')}, which is not "
            f'in "categories" (ids {", ".join(str(i) for i in index)})'
        )
    image = images[ann["image_id"]]
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(isinstance(v, int | float) for v in bbox):
        raise DataError(f"{where}: annotation {ann.get('id')}: bbox must be [x, y, w, h] in pixels, got {bbox!r}")
    x, y, w, h = (float(v) for v in bbox)
    width, height = float(image["width"]), float(image["height"])
    problem = _pixel_problem(x, y, w, h, width, height)
    if problem:
        raise DataError(f"{where}: annotation {ann.get('id')} in image {image['id']}: {problem}")
    box = [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]
    return [float(index[ann["category_id"]]), *box]


def _pixel_problem(x: float, y: float, w: float, h: float, width: float, height: float) -> str | None:
    """Why a COCO bbox does not fit in its image, in its own pixel units, or None."""
    text = f"bbox [{x:g}, {y:g}, {w:g}, {h:g}]"
    if w <= 0 or h <= 0:
        return f"{text} has no area (w and h must be > 0)"
    edges = {"left": (x, 0.0), "top": (y, 0.0), "right": (x + w, width), "bottom": (y + h, height)}
    for edge, (value, limit) in edges.items():
        if (value < limit - _TOLERANCE) if edge in ("left", "top") else (value > limit + _TOLERANCE * limit):
            return f"{text} reaches outside the {width:g}x{height:g} image: its {edge} edge is at {value:g}"
    return None


def _image_file(path: Path, image: dict) -> str:
    name = str(image.get("file_name", ""))
    for folder in (path.parent, path.parent / "images"):
        if name and (folder / name).is_file():
            return str(folder / name)
    raise DataError(
        f"{path}: image {image.get('id')}'s file {name!r} does not exist (looked in {path.parent} and "
        f"{path.parent / 'images'})"
    )


# ---------------------------------------------------------------- the reader the shared data loader calls


class Reader:
    """Detection targets for the shared data loader (see the module's docstring for the formats)."""

    def __init__(self, max_objects: int = 50):
        self.max_objects = max_objects

    def files(self, path: Path):
        """The shared loader's Source of a COCO file or a YOLO-labelled folder."""
        from ...runtime.data import Source

        if path.is_file() and path.suffix == ".json":
            found = read_coco(path, self.max_objects)
        elif path.is_dir():
            found = read_yolo(path, self.max_objects)
        else:
            raise DataError(f"{path}: give a folder of images with YOLO text labels, a COCO .json file, or a .npz")
        return Source(found.targets, paths=found.paths, class_names=found.class_names, notes=found.notes)

    def arrays(self, arrays: dict, suffix: str, count: int, path: Path) -> np.ndarray:
        key = f"boxes{suffix}"
        if key not in arrays:
            raise DataError(
                f"{path} needs `x{suffix}` and `{key}` (N x M x 5: class, cx, cy, w, h as fractions of "
                f"the image; class -1 for no object); it has {', '.join(sorted(arrays))}"
            )
        boxes = np.asarray(arrays[key], dtype=np.float64)
        if boxes.ndim != 3 or boxes.shape[0] != count or boxes.shape[2] != 5:
            raise DataError(f"{path}: {key} is {'x'.join(map(str, boxes.shape))}, want {count} x M x 5")
        out = []
        for i, rows in enumerate(boxes):
            objects = [list(r) for r in rows if r[0] >= 0]
            for r in objects:
                problem = box_problem(*r[1:])
                if problem:
                    raise DataError(f"{path}: {key}[{i}]: {problem}")
            out.append(padded(objects, self.max_objects, f"{path}: {key}[{i}]"))
        return np.stack(out) if out else np.zeros((0, self.max_objects, 5), np.float32)

    def class_names(self, arrays: dict, targets: np.ndarray, path: Path) -> list[str]:
        count = int(targets[..., 0].max()) + 1 if targets.size else 0
        names = [str(n) for n in arrays["class_names"]] if "class_names" in arrays else [str(i) for i in range(count)]
        if len(names) < count:
            raise DataError(f"{path}: class ids go up to {count - 1} but class_names has {len(names)} names")
        return names

    def strata(self, targets: np.ndarray) -> np.ndarray:
        """The split keeps the share of empty, one-object, two-object and busier images alike."""
        return np.minimum((targets[..., 0] >= 0).sum(axis=1), 3)

    def follow(self, target: np.ndarray, geometry) -> np.ndarray:
        return follow(target, geometry)


def follow(target: np.ndarray, geometry) -> np.ndarray:
    """The boxes after a geometric augmentation: each box's corners moved, the box around them clipped to the
    image.  A box keeps its place when at least MIN_VISIBLE of its moved area is inside the image and it is
    at least one pixel wide and high; otherwise it is dropped (the objects that stay move up)."""
    h, w = geometry.size
    kept = []
    for cls, cx, cy, bw, bh in target[target[:, 0] >= 0].astype(np.float64):
        x1, y1, x2, y2 = cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2
        corners = np.array([[y1, x1], [y1, x2], [y2, x1], [y2, x2]]) * [h, w] - 0.5  # pixel index units
        moved = (geometry.points(corners) + 0.5) / [h, w]
        top, left = moved.min(axis=0)
        bottom, right = moved.max(axis=0)
        area = (bottom - top) * (right - left)
        top, left, bottom, right = max(top, 0.0), max(left, 0.0), min(bottom, 1.0), min(right, 1.0)
        inside = max(bottom - top, 0.0) * max(right - left, 0.0)
        if inside >= MIN_VISIBLE * area and (bottom - top) * h >= 1 and (right - left) * w >= 1:
            kept.append([cls, (left + right) / 2, (top + bottom) / 2, right - left, bottom - top])
    out = np.zeros_like(target)
    out[:, 0] = -1
    if kept:
        out[: len(kept)] = kept
    return out
