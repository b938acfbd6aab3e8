"""Detection, framework-neutral: the head record, the anchors, and what the shared loop asks of the task.

Predictions handed to the evaluation are the raw outputs, channels-last
(N x S_h x S_w x A(5 + C)); targets are N x M x 5 (labels.py).  Every epoch
the validation split is decoded (yolo.decode), filtered (nms.select) and
scored: the loss (the numpy reference of the training loss), VOC mAP@0.5 and
COCO mAP@[.5:.95], and the per-class table.  The test split also gets its COCO
JSON files, the precision-recall curves and drawn images.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...runtime.config import ConfigError
from ...runtime.loop import atomic_path, write_text
from . import boxes, coco, evaluate, nms, report, yolo
from .labels import Reader as Reader  # train.py reads the data through the task's framework file


@dataclass(frozen=True)
class DetectHead:
    """What cnnc found at the end of the spec: written into the script as `HEAD = DetectHead(...)`."""

    output: str  # the grid output trained
    grid: tuple[int, int]  # S_h, S_w
    anchors: int  # A
    classes: int  # C
    layer: str | None  # the last layer with weights (the head, for --reset-head)

    def check_classes(self, names: list[str]) -> None:
        if len(names) != self.classes:
            raise ConfigError(
                f"the data has {len(names)} classes but the spec's output `{self.output}` predicts "
                f"{self.classes}; compile with --set num_classes={len(names)}"
            )


def find_anchors(cfg, head: DetectHead, targets: np.ndarray, log) -> np.ndarray:
    """--anchors as given, or k-means on the training boxes (auto); printed with their mean IoU either way."""
    sizes = targets[targets[..., 0] >= 0][:, 3:5]
    if cfg.anchors == "auto":
        try:
            anchors = boxes.kmeans_anchors(sizes, head.anchors, seed=cfg.seed)
        except ValueError as exc:
            raise ConfigError(f'--anchors auto: {exc}; give --anchors "w,h ..."') from None
        how = "k-means (1 - IoU) on"
    else:
        try:
            anchors = boxes.parse_anchors(cfg.anchors)
        except ValueError as exc:
            raise ConfigError(f"--anchors: {exc}") from None
        if len(anchors) != head.anchors:
            raise ConfigError(f"--anchors gives {len(anchors)} anchors, the output `{head.output}` has {head.anchors}")
        how = "given; on"
    log(
        f"anchors (w,h as fractions of the image): {boxes.format_anchors(anchors)} ({how} {len(sizes)} training "
        f"boxes: mean IoU with the best anchor {boxes.mean_best_iou(sizes, anchors):.4f})"
    )
    return anchors


def truth_of(targets: np.ndarray, size: tuple[int, int]) -> list[evaluate.Boxes]:
    """Ground truth boxes in COCO's pixels (x, y, w, h) at the model's input size, per image."""
    h, w = size
    out = []
    for rows in targets:
        rows = rows[rows[:, 0] >= 0].astype(np.float64)
        corners = boxes.to_corners(rows[:, 1:5]) * [w, h, w, h]
        out.append(evaluate.Boxes(_xywh(corners), rows[:, 0].astype(np.int64)))
    return out


def found_of(detections: list[nms.Detections], size: tuple[int, int]) -> list[evaluate.Boxes]:
    h, w = size
    return [evaluate.Boxes(_xywh(d.boxes * [w, h, w, h]), d.classes, d.scores) for d in detections]


def _xywh(corners: np.ndarray) -> np.ndarray:
    corners = np.asarray(corners, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([corners[:, :2], corners[:, 2:] - corners[:, :2]], axis=1)


class Evaluation:
    """What the shared loop asks of the task: per-epoch numbers, the test report, the pictures and files."""

    running_names: tuple[str, ...] = yolo.TERMS

    def __init__(self, head: DetectHead, cfg, anchors: np.ndarray, names: list[str], size: tuple[int, int], log=print):
        self.head, self.cfg, self.anchors, self.names, self.log = head, cfg, anchors, list(names), log
        self.size = (int(size[0]), int(size[1]))  # the model's input (H, W): the pixels COCO boxes count in
        self.prediction_shape = (*head.grid, head.anchors * (5 + head.classes))
        self.epochs_seen = 0

    def detections(self, predictions: np.ndarray) -> list[nms.Detections]:
        return nms.detect(
            predictions,
            self.anchors,
            self.head.classes,
            self.cfg.score_threshold,
            self.cfg.iou_threshold,
            self.cfg.max_detections,
        )

    def scores(self, predictions: np.ndarray, split) -> dict:
        truth = truth_of(split.targets, self.size)
        return evaluate.evaluate(truth, found_of(self.detections(predictions), self.size), self.head.classes)

    def summary(self, predictions: np.ndarray, split) -> dict[str, float]:
        """The validation numbers of an epoch (and, every --table-every epochs, the per-class table)."""
        if not len(split):
            return {"loss": float("nan")}
        result = self.scores(predictions, split)
        terms = yolo.loss_terms(
            predictions, split.targets.astype(np.float64), self.anchors, self.head.classes, yolo.NumpyOps()
        )
        self.epochs_seen += 1
        if self.cfg.table_every and self.epochs_seen % self.cfg.table_every == 0:
            self.log(f"validation, epoch {self.epochs_seen}:\n" + report.map_table(result, self.names))
        loss = yolo.total_loss(terms, self.cfg.box_weight, self.cfg.noobj_weight)
        return {"loss": float(loss), "map50": result["map50"], "coco_map": result["coco_map"]}

    def evaluate(self, predictions: np.ndarray, split, data) -> dict:
        result = self.scores(predictions, split)
        result.pop("curves")
        for row in result["per_class"]:
            row["name"] = self.names[row["class"]]
        objects = int((split.targets[..., 0] >= 0).sum())
        return {
            **result,
            "examples": int(len(split)),
            "objects": objects,
            "class_names": list(self.names),
            "anchors": self.anchors.tolist(),
            "score_threshold": self.cfg.score_threshold,
            "iou_threshold": self.cfg.iou_threshold,
        }

    def report(self, result: dict, title: str) -> str:
        head = (
            f"{title}: {result['examples']} images, {result['objects']} objects: mAP@0.5 {result['map50']:.4f} "
            f"(VOC), mAP@[.5:.95] {result['coco_map']:.4f} (COCO)"
        )
        return head + "\n" + report.map_table(result, self.names)

    def show(self, trainer, predictions: np.ndarray, split) -> None:
        """<out>/: test_instances.json and test_results.json (COCO), pr_curves.png, detections/*.png."""
        out, size = Path(self.cfg.out), self.size
        found = self.detections(predictions)
        truth = truth_of(split.targets, size)
        files = split.paths or [f"test_{i}" for i in range(len(split))]
        coco.write(out / "test_instances.json", coco.instances(files, [size] * len(split), truth, self.names))
        coco.write(out / "test_results.json", coco.results(found_of(found, size)))
        curves = evaluate.evaluate(truth, found_of(found, size), self.head.classes)["curves"]
        report.plot_pr_curves(out / "pr_curves.png", curves, self.names, atomic_path)
        count = min(self.cfg.draw, len(split))
        if count:
            images = split.load(np.arange(count), trainer.data.shape)
            for i in range(count):
                true = boxes.to_corners(split.targets[i][split.targets[i][:, 0] >= 0][:, 1:5])
                self._save(
                    report.drawn(images[i], found[i], self.names, truth=true), out / "detections" / f"{i:04d}.png"
                )
        trainer.env.log(
            f"test files: {out / 'test_instances.json'}, {out / 'test_results.json'} (COCO), "
            f"{out / 'pr_curves.png'}" + (f", {count} drawn images in {out / 'detections'}" * bool(count))
        )

    @staticmethod
    def _save(picture, path: Path) -> None:
        with atomic_path(path) as tmp:
            picture.save(tmp, format="PNG")


def predict_folder(trainer, folder: str) -> Path:
    """Detect in every image of a folder: <out>/predict/<name>.png drawn, and detections.json (boxes in each
    image's own pixels, x, y, w, h, and as fractions of it)."""
    from PIL import Image

    from ...runtime.data import DataError, Split, image_files

    files = image_files(Path(folder)) if Path(folder).is_dir() else []
    if not files:
        raise DataError(f"--predict {folder}: no images there")
    task, cfg = trainer.task, trainer.cfg
    split = Split("predict", np.zeros((len(files), 1, 5), np.float32) - 1, paths=[str(f) for f in files])
    found = task.detections(trainer.predict(split))
    out = Path(cfg.out) / "predict"
    images = split.load(np.arange(len(files)), trainer.data.shape)
    rows = []
    for file, image, dets in zip(files, images, found, strict=True):
        width, height = Image.open(file).size
        task._save(report.drawn(image, dets, task.names), out / f"{file.stem}.png")
        for box, cls, score in zip(dets.boxes, dets.classes, dets.scores, strict=True):
            pixels = _xywh(box * [width, height, width, height])[0]
            rows.append(
                {
                    "file": str(file),
                    "class": task.names[int(cls)],
                    "class_id": int(cls),
                    "score": round(float(score), 6),
                    "bbox": [round(float(v), 3) for v in pixels],
                    "box": [round(float(v), 6) for v in box],
                }
            )
    write_text(out / "detections.json", json.dumps(rows, indent=1) + "\n")
    trainer.env.log(
        f"predict: {len(rows)} boxes in {len(files)} images: {out / 'detections.json'}, drawn images in {out}"
    )
    return out
