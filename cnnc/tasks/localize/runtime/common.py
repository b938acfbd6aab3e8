"""Classification with localization, framework-neutral: targets, the loss in numpy, metrics, report, pictures.

A target row is [pc, bx, by, bh, bw, class] (float32): pc 1 when there is an
object, the box's midpoint and size as fractions of the image, and the class
index (-1 when there is no object).  The model's output is [pc, bx, by, bh, bw,
c1..cK]; predictions handed to the metrics are the raw outputs, read through
the head's activation and the loss (`read`).

Box convention: bx, by are the midpoint's x (across) and y (down); bh, bw the
height and width, all as fractions of the image's size.
"""

from __future__ import annotations

import csv
import difflib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...runtime.config import ConfigError
from ...runtime.data import DataError, Source
from ...runtime.metrics import box_iou, format_numbers, mean

_EPS = 1e-7
_TOLERANCE = 1e-6  # a box edge this far outside the image is rounding, not a mistake
LABEL_FILES = ("labels.csv", "labels.json")


@dataclass(frozen=True)
class LocalizeHead:
    """What cnnc found at the end of the spec: written into the script as `HEAD = LocalizeHead(...)`."""

    output: str  # the output trained: [pc, bx, by, bh, bw, c1..cK]
    classes: int  # K
    activation: str  # sigmoid | linear
    layer: str | None  # the last layer with weights before the output (the head, for --reset-head)

    def check_classes(self, names: list[str]) -> None:
        if len(names) != self.classes:
            raise ConfigError(
                f"the data has {len(names)} classes but the spec's output `{self.output}` has 5 + "
                f"{self.classes} units; compile with --set num_classes={len(names)} (or make the "
                f"output dense(5 + {len(names)}))"
            )


# ---------------------------------------------------------------- targets


def target_row(present: bool, box, cls: int) -> list[float]:
    return [1.0, *map(float, box), float(cls)] if present else [0.0, 0.0, 0.0, 0.0, 0.0, -1.0]


def box_problem(box) -> str | None:
    """Why a (bx, by, bh, bw) box does not fit in the image, or None."""
    bx, by, bh, bw = (float(v) for v in box)
    if min(bh, bw) <= 0:
        return f"box {_fmt(box)} has no area (bh and bw must be > 0)"
    edges = {"left": bx - bw / 2, "top": by - bh / 2, "right": bx + bw / 2, "bottom": by + bh / 2}
    for edge, value in edges.items():
        outside = value < -_TOLERANCE if edge in ("left", "top") else value > 1 + _TOLERANCE
        if outside:
            return (
                f"box {_fmt(box)} reaches outside the image: its {edge} edge is at {value:.4g} "
                f"(boxes are (bx, by, bh, bw) as fractions of the image, edges within 0..1)"
            )
    return None


def _fmt(box) -> str:
    return "(" + ", ".join(f"{float(v):.4g}" for v in box) + ")"


class Reader:
    """Boxes and classes: an image folder with a label file (labels.csv or labels.json, or the file given as
    --data; image paths relative to its folder), or a .npz with `y` (class index, -1: no object) and
    `boxes` (N x 4: bx, by, bh, bw), optionally `class_names`."""

    def files(self, path: Path) -> Source:
        if path.is_dir():
            found = [path / name for name in LABEL_FILES if (path / name).is_file()]
            if not found:
                raise DataError(f"{path}: no {' or '.join(LABEL_FILES)} (rows of file, class or none, bx, by, bh, bw)")
            path = found[0]
        rows = read_json(path) if path.suffix == ".json" else read_csv(path)
        return _source(path, *rows)

    def arrays(self, arrays: dict, suffix: str, count: int, path: Path) -> np.ndarray:
        for key in (f"y{suffix}", f"boxes{suffix}"):
            if key not in arrays:
                raise DataError(
                    f"{path} needs `x{suffix}`, `y{suffix}` (class index, -1: no object) and "
                    f"`boxes{suffix}` (N x 4: bx, by, bh, bw); it has {', '.join(sorted(arrays))}"
                )
        y, boxes = np.asarray(arrays[f"y{suffix}"]).reshape(-1), np.asarray(arrays[f"boxes{suffix}"], np.float64)
        if len(y) != count or boxes.shape != (count, 4):
            raise DataError(
                f"{path}: {count} examples, but y{suffix} has {len(y)} and boxes{suffix} is "
                f"{'x'.join(map(str, boxes.shape))} (want {count}x4)"
            )
        rows = []
        for i, (cls, box) in enumerate(zip(y, boxes, strict=True)):
            problem = box_problem(box) if cls >= 0 else None
            if problem:
                raise DataError(f"{path}: example {i} (boxes{suffix}[{i}]): {problem}")
            rows.append(target_row(cls >= 0, box, int(cls)))
        return np.asarray(rows, dtype=np.float32).reshape(-1, 6)

    def class_names(self, arrays: dict, targets: np.ndarray, path: Path) -> list[str]:
        count = int(targets[:, 5].max()) + 1 if len(targets) else 0
        names = [str(n) for n in arrays["class_names"]] if "class_names" in arrays else [str(i) for i in range(count)]
        if len(names) < count:
            raise DataError(f"{path}: classes go up to {count - 1} but class_names has {len(names)} names")
        return names

    def strata(self, targets: np.ndarray) -> np.ndarray:
        return targets[:, 5].astype(np.int64) + 1  # "no object" is a stratum of its own

    def follow(self, target: np.ndarray, geometry) -> np.ndarray:
        """The box after a geometric augmentation: its corners moved, the box around them, clipped to the
        image; a box pushed out of the image leaves no object."""
        if target[0] < 0.5:
            return target
        h, w = geometry.size
        bx, by, bh, bw = (float(v) for v in target[1:5])
        corners = (
            np.array(
                [
                    [by - bh / 2, bx - bw / 2],
                    [by - bh / 2, bx + bw / 2],
                    [by + bh / 2, bx - bw / 2],
                    [by + bh / 2, bx + bw / 2],
                ]
            )
            * [h, w]
            - 0.5
        )  # to pixel index units
        moved = (geometry.points(corners) + 0.5) / [h, w]
        top, left = np.clip(moved.min(axis=0), 0, 1)
        bottom, right = np.clip(moved.max(axis=0), 0, 1)
        if bottom - top < 1 / h or right - left < 1 / w:
            return np.asarray(target_row(False, (), -1), dtype=target.dtype)
        box = ((left + right) / 2, (top + bottom) / 2, bottom - top, right - left)
        return np.asarray(target_row(True, box, int(target[5])), dtype=target.dtype)


def read_csv(path: Path) -> tuple[list[tuple[int, str, str, list[str]]], list[str] | None]:
    """(line, file, class, box fields) per row of a CSV with a header file,class,bx,by,bh,bw."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            table = list(csv.reader(handle))
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    if not table or [c.strip() for c in table[0][:6]] != ["file", "class", "bx", "by", "bh", "bw"]:
        raise DataError(f"{path}:1: the header must be file,class,bx,by,bh,bw")
    rows = [(n, r[0].strip(), r[1].strip() if len(r) > 1 else "", r[2:6]) for n, r in enumerate(table[1:], 2) if r]
    classes_file = path.parent / "classes.txt"
    classes = (
        [c.strip() for c in classes_file.read_text().splitlines() if c.strip()] if classes_file.is_file() else None
    )
    return rows, classes


def read_json(path: Path) -> tuple[list[tuple[int, str, str, list]], list[str] | None]:
    """{"classes": [...], "images": [{"file": ..., "class": ... or null, "box": [bx, by, bh, bw]}, ...]}; the line
    of each entry is the line its "file" is on."""
    try:
        text = path.read_text(encoding="utf-8")
        blob = json.loads(text)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    lines = [n for n, line in enumerate(text.splitlines(), 1) for _ in range(line.count('"file"'))]
    rows = []
    for i, entry in enumerate(blob.get("images", [])):
        line = lines[i] if i < len(lines) else 0
        rows.append(
            (
                line,
                str(entry.get("file", "")),
                "" if entry.get("class") is None else str(entry["class"]),
                entry.get("box") or [],
            )
        )
    return rows, blob.get("classes")


def _source(path: Path, rows, classes: list[str] | None) -> Source:
    named = [c for _, _, c, _ in rows if c and c.lower() != "none"]
    names = list(classes) if classes is not None else sorted(set(named))
    listed = "classes.txt" if path.suffix != ".json" else 'its "classes"'
    paths, targets = [], []
    for line, file, cls, box in rows:
        where = f"{path}:{line}"
        image = path.parent / file
        if not file or not image.is_file():
            raise DataError(f"{where}: image {file!r} does not exist (looked for {image})")
        if not cls or cls.lower() == "none":
            targets.append(target_row(False, (), -1))
        else:
            if cls not in names:
                close = difflib.get_close_matches(cls, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise DataError(f"{where}: class {cls!r} is not in the class list ({listed}: {', '.join(names)}){hint}")
            targets.append(target_row(True, _box(box, where), names.index(cls)))
        paths.append(str(image))
    if not paths:
        raise DataError(f"{path}: no labelled images")
    return Source(np.asarray(targets, dtype=np.float32), paths=paths, class_names=names)


def _box(fields, where: str) -> tuple[float, ...]:
    try:
        box = tuple(float(v) for v in fields)
    except (TypeError, ValueError):
        box = ()
    if len(box) != 4:
        raise DataError(f"{where}: an object needs a box of four numbers bx, by, bh, bw, got {list(fields)}")
    problem = box_problem(box)
    if problem:
        raise DataError(f"{where}: {problem}")
    return box


# ---------------------------------------------------------------- the loss, in numpy (the reference)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _bce(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def loss(out: np.ndarray, targets: np.ndarray, kind: str, activation: str) -> float:
    """The training loss of train.py, in float64 numpy: the reference both frameworks are tested against.

    squared (the material): sum of squared errors over [pc, bx, by, bh, bw, c1..cK] (classes one-hot)
    where there is an object, (pc - 0)^2 where not.  logistic: binary cross-entropy on pc, plus, where there
    is an object, squared error on the box and cross-entropy on the classes (softmax on a linear head,
    one-vs-rest on a sigmoid head).  Mean over examples."""
    out, targets = np.asarray(out, np.float64), np.asarray(targets, np.float64)
    present, classes = targets[:, 0], out.shape[1] - 5
    onehot = np.eye(classes)[np.clip(targets[:, 5], 0, None).astype(np.int64)]
    if kind == "squared":
        error = (out - np.concatenate([targets[:, :5], onehot], axis=1)) ** 2
        return float(np.mean(present * error.sum(axis=1) + (1 - present) * error[:, 0]))
    box = ((out[:, 1:5] - targets[:, 1:5]) ** 2).sum(axis=1)
    if activation == "sigmoid":
        pc, cls = _bce(out[:, 0], present), _bce(out[:, 5:], onehot).sum(axis=1)
    else:
        pc = _bce(_sigmoid(out[:, 0]), present)
        shifted = out[:, 5:] - out[:, 5:].max(axis=1, keepdims=True)
        cls = -(onehot * (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))).sum(axis=1)
    return float(np.mean(pc + present * (box + cls)))


def read(out: np.ndarray, kind: str, activation: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pc as a probability-like score, boxes N x 4, class scores N x K) from raw outputs."""
    out = np.asarray(out, np.float64)
    pc = _sigmoid(out[:, 0]) if kind == "logistic" and activation == "linear" else out[:, 0]
    return pc, out[:, 1:5], out[:, 5:]


# ---------------------------------------------------------------- metrics


def summary(out: np.ndarray, targets: np.ndarray, kind: str, activation: str) -> dict[str, float]:
    """The per-epoch numbers: the loss, object-present accuracy, class accuracy and mean IoU over the
    examples with an object, and the fraction of those whose predicted box has IoU >= 0.5."""
    if not len(targets):
        return {"loss": float("nan")}
    pc, boxes, scores = read(out, kind, activation)
    objects = targets[:, 0] > 0.5
    iou = box_iou(boxes[objects], targets[objects, 1:5])
    right_class = scores[objects].argmax(axis=1) == targets[objects, 5].astype(np.int64)
    return {
        "loss": loss(out, targets, kind, activation),
        "present_acc": mean((pc > 0.5) == objects),
        "class_acc": mean(right_class),
        "iou": mean(iou),
        "iou50": mean(iou >= 0.5 - 1e-9),
    }  # 1e-9: rounding


_NAMES = {
    "present_acc": "object-present accuracy",
    "class_acc": "class accuracy",
    "iou": "mean IoU",
    "iou50": "IoU >= 0.5",
}


class Evaluation:
    """What the shared loop asks of the task: per-epoch numbers, the test report, the drawn predictions."""

    running_names: tuple[str, ...] = ()

    def __init__(self, head: LocalizeHead, cfg):
        self.head, self.cfg = head, cfg
        self.prediction_shape = (5 + head.classes,)

    def summary(self, predictions: np.ndarray, split) -> dict[str, float]:
        return summary(predictions, split.targets, self.cfg.loss, self.head.activation)

    def evaluate(self, predictions: np.ndarray, split, data) -> dict:
        numbers = self.summary(predictions, split)
        objects = int((split.targets[:, 0] > 0.5).sum())
        return {
            **numbers,
            "examples": int(len(split)),
            "objects": objects,
            "class_names": list(data.class_names),
            "loss_kind": self.cfg.loss,
        }

    def report(self, result: dict, title: str) -> str:
        head = f"{title}: {result['examples']} examples ({result['objects']} with an object), loss {result['loss']:.4f}"
        return head + "\n  " + format_numbers(result, list(_NAMES), _NAMES)

    def show(self, trainer, predictions: np.ndarray, split) -> None:
        """<out>/predictions.png: the first --draw test images, true box green, predicted box red."""
        count = min(self.cfg.draw, len(split))
        if count:
            images = split.load(np.arange(count), trainer.data.shape)
            path = Path(self.cfg.out) / "predictions.png"
            draw(path, images, predictions[:count], split.targets[:count], trainer.data.class_names, self)
            trainer.env.log(f"predicted boxes of {count} test images: {path}")


def box_to_pixels(box, h: int, w: int) -> tuple[float, float, float, float]:
    """(left, top, width, height) in pixels of a (bx, by, bh, bw) box."""
    bx, by, bh, bw = (float(v) for v in box)
    return (bx - bw / 2) * w, (by - bh / 2) * h, bw * w, bh * h


def draw(path: Path, images: np.ndarray, out: np.ndarray, targets: np.ndarray, names: list[str], task) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from ...runtime.loop import atomic_path

    pc, boxes, scores = read(out, task.cfg.loss, task.head.activation)
    columns = min(4, len(images))
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3.2 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(images):
            continue
        image = images[i].astype(np.float64)
        image = image / max(image.max(), 1e-9)
        h, w = image.shape[:2]
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
        true = names[int(targets[i, 5])] if targets[i, 0] > 0.5 else "none"
        if targets[i, 0] > 0.5:
            x, y, bw, bh = box_to_pixels(targets[i, 1:5], h, w)
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), bw, bh, fill=False, edgecolor="lime", linewidth=2))
        guess = "none"
        if pc[i] > 0.5:
            guess = names[int(scores[i].argmax())] if names else str(int(scores[i].argmax()))
            x, y, bw, bh = box_to_pixels(boxes[i], h, w)
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), bw, bh, fill=False, edgecolor="red", linewidth=2))
        ax.set_title(f"true {true} | pred {guess} ({pc[i]:.2f})", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
