"""Semantic segmentation, framework-neutral: the head, what the shared loop asks of the task (per-epoch
numbers, the test report, pictures), and the axis flips of 3D augmentation.

Predictions handed here are the raw outputs, channels-last (N x S' x C), S' the output's spatial size;
targets are masks at the input's size (N x S), cropped to the output's centre where it is smaller.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...runtime.config import ConfigError
from . import metrics
from .masks import random_flips
from .reader import Reader as Reader  # train.py reads the data through the task's runtime
from .tiles import centre_crop


@dataclass(frozen=True)
class SegmentHead:
    """What cnnc found at the end of the spec: written into the script as `HEAD = SegmentHead(...)`."""

    output: str  # the class map trained
    channels: int  # C: K class channels, or 1 (foreground probability or logit)
    classes: int  # K: the classes a pixel can take (2 for a one-channel head)
    activation: str  # softmax | sigmoid | linear (logits)
    input_size: tuple[int, ...]  # spatial size of the input
    output_size: tuple[int, ...]  # spatial size of the map: the input's, or its centre (valid convolutions)
    layer: str | None  # the last layer with weights (the head, for --reset-head)

    def check_classes(self, names: list[str]) -> None:
        if len(names) != self.classes:
            wide = "one sigmoid channel (2 classes)" if self.channels == 1 else f"{self.channels} channels"
            raise ConfigError(
                f"the data has {len(names)} classes ({', '.join(names[:12])}) but the spec's output "
                f"`{self.output}` has {wide}; compile with --set num_classes={len(names)}"
            )


class Evaluation:
    """The task for the shared loop: per-epoch numbers, the test report, the pictures and PNGs."""

    running_names: tuple[str, ...] = ()

    def __init__(self, head: SegmentHead, cfg, colours=None):
        self.head, self.cfg, self.colours = head, cfg, colours
        self.prediction_shape = (*head.output_size, head.channels)
        self.weights = list(cfg.class_weights) or None
        if self.weights and len(self.weights) != head.classes:
            raise ConfigError(f"--class-weights has {len(self.weights)} numbers, the head has {head.classes} classes")

    def targets(self, split) -> np.ndarray:
        """The split's masks where the output is: the centre crop when the output is smaller."""
        return centre_crop(split.targets, self.head.output_size)

    def summary(self, predictions: np.ndarray, split) -> dict[str, float]:
        """Loss (over the whole split as one batch), pixel accuracy and mean IoU."""
        if not len(split):
            return {"loss": float("nan")}
        masks = self.targets(split)
        got = self._scores(predictions, masks)
        return {"loss": self._loss(predictions, masks), "pixel_acc": got["pixel_acc"], "miou": got["miou"]}

    def _loss(self, predictions, masks) -> float:
        return metrics.loss(predictions, masks, self.cfg.loss, self.head.activation, self.weights, self.ignore)

    def _scores(self, predictions, masks) -> dict:
        return metrics.evaluate(predictions, masks, self.head.classes, self.head.activation, self.ignore)

    @property
    def ignore(self) -> int:
        return int(self.cfg.ignore_index)

    def evaluate(self, predictions: np.ndarray, split, data) -> dict:
        masks = self.targets(split)
        result = {"loss": self._loss(predictions, masks), **self._scores(predictions, masks)}
        return {
            **result,
            "examples": int(len(split)),
            "class_names": list(data.class_names),
            "ignore_index": self.ignore,
            "loss_kind": self.cfg.loss,
        }

    def report(self, result: dict, title: str) -> str:
        names = result["class_names"]
        absent = ", ".join(names[k] for k in result["absent"]) or "none"
        lines = [
            f"{title}: {result['examples']} examples, loss {result['loss']:.4f}",
            f"  pixel accuracy {result['pixel_acc']:.4f}  mean IoU {result['miou']:.4f}  "
            f"mean Dice {result['dice']:.4f}",
            f"  (means over the classes in the truth or the prediction; absent from both: {absent}; "
            f"pixels labelled {result['ignore_index']} left out)",
            f"  {'class':<16}{'IoU':>8}{'Dice':>8}{'pixels':>12}",
        ]
        pixels = np.asarray(result["confusion"]).sum(axis=1)
        for k, name in enumerate(names):
            lines.append(f"  {name[:15]:<16}{result['iou'][k]:>8.4f}{result['class_dice'][k]:>8.4f}{pixels[k]:>12,}")
        return "\n".join(lines)

    def show(self, trainer, predictions: np.ndarray, split) -> None:
        """<out>/predictions.png (image | true | predicted for --draw test examples, with a colour legend)
        and <out>/test_masks/ (every test example's predicted mask as an index PNG, for 2D maps)."""
        from . import pictures

        out = Path(self.cfg.out)
        classes = metrics.predicted_classes(predictions, self.head.activation)
        names = list(trainer.data.class_names)
        if len(self.head.output_size) == 2 and len(split):
            folder = pictures.write_masks(out / "test_masks", classes, _example_names(split))
            trainer.env.log(f"predicted masks of {len(split)} test examples: {folder}")
        count = min(self.cfg.draw, len(split))
        if count:
            images = trainer.pipeline.normalizer.scaled(split.load(np.arange(count), trainer.data.shape))
            images = centre_crop(images, self.head.output_size)
            path = pictures.side_by_side(
                out / "predictions.png",
                images,
                self.targets(split)[:count],
                classes[:count],
                names,
                self.colours,
                self.ignore,
            )
            trainer.env.log(f"image | true | predicted mask of {count} test examples: {path}")

    def predict_folder(self, trainer) -> int:
        """--predict FOLDER with --weights: every image, whole, by overlap-tile, as index PNGs and colour
        overlays in <out>/predicted/; the exit status (0)."""
        from . import pictures

        if not self.cfg.weights:
            raise ConfigError("--predict labels images with trained weights: give --weights (e.g. run/best.pt)")
        if len(self.head.input_size) != 2:
            raise ConfigError("--predict reads a folder of 2D images; this model takes volumes")
        if trainer.is_main:
            pictures.predict_folder(
                Path(self.cfg.predict),
                Path(self.cfg.out) / "predicted",
                self.head,
                trainer,
                self.tile_predictor(trainer),
                self.colours,
                self.cfg.batch_size,
            )
        return 0


def _example_names(split) -> list[str]:
    if split.paths is not None:
        return [Path(p).stem for p in split.paths]
    return [f"{split.name}_{i:05d}" for i in range(len(split))]


class AxisFlips:
    """The shared augmentation, then a mirror of each spatial axis with probability `probability` (3D
    volumes have no up or left); the mask follows through the returned geometry."""

    def __init__(self, inner, probability: float):
        self.inner, self.probability = inner, float(probability)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    @property
    def active(self) -> bool:
        return self.inner.active or self.probability > 0

    def apply(self, x: np.ndarray, rng: np.random.Generator):
        x, geometry = self.inner.apply(x, rng)
        if self.probability:
            x, matrix = random_flips(x, self.probability, rng)
            geometry.matrix = matrix @ geometry.matrix
        return np.ascontiguousarray(x), geometry

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.apply(x, rng)[0]
