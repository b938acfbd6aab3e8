"""COCO JSON, out: ground truth in the `instances` format and detections in the `results` format.

Any COCO tool reads these (pycocotools: `COCO(instances)`, `coco.loadRes(results)`).
Image ids are 1..N in the order of the images; category ids are the class
index + 1 (COCO's ids start at 1); annotation ids are 1..K (COCOeval stores a
matched ground truth's id, so 0 would read as "unmatched").  Boxes are
(x, y, w, h) in pixels, written as Python writes floats, so they read back
exactly as the harness evaluated them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .evaluate import Boxes


def instances(files: list[str], sizes: list[tuple[int, int]], truth: list[Boxes], names: list[str]) -> dict:
    """The `instances` JSON of a split: its images (file, height, width), ground-truth boxes and classes."""
    images = [
        {"id": i + 1, "file_name": str(f), "height": int(h), "width": int(w)}
        for i, (f, (h, w)) in enumerate(zip(files, sizes, strict=True))
    ]
    annotations = []
    for i, t in enumerate(truth):
        for box, cls in zip(np.asarray(t.boxes, np.float64).reshape(-1, 4), t.classes, strict=True):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": int(cls) + 1,
                    "bbox": [float(v) for v in box],
                    "area": float(box[2] * box[3]),
                    "iscrowd": 0,
                }
            )
    categories = [{"id": c + 1, "name": str(name)} for c, name in enumerate(names)]
    return {"images": images, "annotations": annotations, "categories": categories}


def results(found: list[Boxes]) -> list[dict]:
    """The `results` JSON of a split's detections, image by image in their order."""
    out = []
    for i, f in enumerate(found):
        for box, cls, score in zip(np.asarray(f.boxes, np.float64).reshape(-1, 4), f.classes, f.scores, strict=True):
            out.append(
                {"image_id": i + 1, "category_id": int(cls) + 1, "bbox": [float(v) for v in box], "score": float(score)}
            )
    return out


def write(path: Path, blob) -> None:
    """One JSON file, written whole (a reader never sees half of it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(blob), encoding="utf-8")
    tmp.replace(path)
