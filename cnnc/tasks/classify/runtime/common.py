"""Classification, framework-neutral: the head record, the targets reader, the metrics and the report.

Targets are class indices (int64, one per example).  Every framework file turns
its model's output into an N x K array of class probabilities (a sigmoid head
with one unit becomes [1 - p, p]); the metrics work on that array.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...runtime.config import ConfigError
from ...runtime.data import DataError, Source, image_files

_EPS = 1e-7  # Keras' epsilon: log-probabilities are clipped to it
_LABEL_KEYS = ("y", "labels", "Y", "target")


@dataclass(frozen=True)
class Head:
    """What cnnc found at the end of the spec: written into the script as `HEAD = Head(...)`."""

    output: str  # the output trained and evaluated
    outputs: tuple[str, ...]  # every output, in declaration order; the others are auxiliary heads
    units: int  # the output's width in the spec: classes, or 1 for a binary sigmoid
    activation: str  # softmax | sigmoid | logits (no activation at the end)
    layer: str | None  # the head layer: the last layer with weights before the output
    units_param: str | None = None  # the model's constructor argument that sets `units` (num_classes)
    dense_tail: bool = False  # the head layer is dense and only activations or dropout follow it

    @property
    def binary(self) -> bool:
        return self.units == 1

    def units_for(self, classes: int) -> int:
        """The head width for data with `classes` classes."""
        if classes < 2:  # the compiler refuses a one-unit softmax (E0704); one-class data is the same mistake
            raise ConfigError(
                f"the data has {classes} class(es): a classifier needs examples of at least two "
                f"(a {'sigmoid' if self.binary else 'softmax'} over one class learns nothing)"
            )
        if self.binary and classes > 2:
            raise ConfigError(
                f"the spec's output `{self.output}` is one unit (a binary classifier) but the data "
                f"has {classes} classes; end the spec with dense(num_classes) -> softmax"
            )
        return 1 if self.binary else classes

    def model_arguments(self, classes: int) -> dict[str, int]:
        """The constructor arguments that fit the model's head to data with `classes` classes."""
        units = self.units_for(classes)
        if units == self.units:
            return {}
        if not self.units_param:
            raise ConfigError(
                f"the data has {classes} classes but the spec's output `{self.output}` has "
                f"{self.units} units; compile with --set num_classes={classes} (or the spec's "
                f"parameter for it)"
            )
        return {self.units_param: units}


# ---------------------------------------------------------------- targets


class Reader:
    """Class labels: a folder of class subfolders (Keras' flow_from_directory, torchvision's ImageFolder:
    class names are the sorted subfolder names), or .npz labels `y` (or labels, Y, target; one-hot rows
    too) with optional `class_names`."""

    def files(self, root: Path) -> Source:
        if not root.is_dir():
            raise DataError(f"cannot use --data {root}: not a folder of class subfolders, nor an existing .npz file")
        classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        paths: list[str] = []
        labels: list[int] = []
        named: list[str] = []
        for name in classes:
            files = image_files(root / name)
            if files:
                named.append(name)
                paths += [str(p) for p in files]
                labels += [len(named) - 1] * len(files)
        if not paths:
            raise DataError(f"{root} has no class subfolders with images")
        return Source(np.asarray(labels, dtype=np.int64), paths=paths, class_names=named)

    def arrays(self, arrays: dict, suffix: str, count: int, path: Path) -> np.ndarray:
        key = next((k + suffix for k in _LABEL_KEYS if k + suffix in arrays), None)
        if key is None:
            raise DataError(
                f"{path} needs arrays `x` and `y` (or x_train, y_train, x_val, y_val, x_test, y_test); "
                f"it has {', '.join(sorted(arrays)) or 'none'}"
            )
        return labels_from(arrays[key], count, path)

    def class_names(self, arrays: dict, targets: np.ndarray, path: Path) -> list[str]:
        count = int(targets.max()) + 1 if len(targets) else 0
        names = [str(n) for n in arrays["class_names"]] if "class_names" in arrays else [str(i) for i in range(count)]
        if len(names) < count:
            raise DataError(f"{path}: labels go up to {count - 1} but class_names has {len(names)} names")
        return names

    def strata(self, targets: np.ndarray) -> np.ndarray:
        return targets


MAX_CLASSES = 100_000  # ImageNet-21k has 21,841: a label far beyond is a mistake, not a class


def labels_from(y: np.ndarray, n: int, path: Path) -> np.ndarray:
    """Class indices from .npz labels (indices or one-hot rows); DataError if they are not."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    if len(y) != n:
        raise DataError(f"{path}: {n} examples but {len(y)} labels")
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating) or y.dtype == bool):
        raise DataError(
            f"{path}: labels must be class indices 0..K-1 (or one-hot rows), found {y.dtype.name} values"
            + (f" such as {str(y[0])[:30]!r}" if len(y) else "")
        )
    whole = np.isfinite(y) & (np.mod(y, 1) == 0) if np.issubdtype(y.dtype, np.floating) else np.ones(len(y), bool)
    if not whole.all():
        raise DataError(
            f"{path}: labels must be class indices 0..K-1 (or one-hot rows): {int((~whole).sum())} of "
            f"{len(y)} are not whole numbers (first: {y[~whole][0]})"
        )
    if len(y) and y.min() < 0:
        raise DataError(f"{path}: labels must be class indices 0..K-1, found {int(y.min())}")
    if len(y) and y.max() >= MAX_CLASSES:
        raise DataError(
            f"{path}: a label of {int(y.max()):,} asks for a head of {int(y.max()) + 1:,} classes "
            f"(at most {MAX_CLASSES:,}); labels must be class indices 0..K-1"
        )
    return y.astype(np.int64)


# ---------------------------------------------------------------- metrics


def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-probability of the true class."""
    if not len(labels):
        return float("nan")
    picked = probs[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, _EPS, 1.0)).mean())


def top_k_accuracy(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    if not len(labels):
        return float("nan")
    k = min(k, probs.shape[1])
    top = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """Rows: the true class; columns: the predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def summary(probs: np.ndarray, labels: np.ndarray, top_k: int = 5) -> dict[str, float]:
    """The per-epoch numbers: loss, accuracy, and top-k where there are more than k classes."""
    out = {
        "loss": cross_entropy(probs, labels),
        "acc": float((probs.argmax(axis=1) == labels).mean()) if len(labels) else float("nan"),
    }
    if probs.shape[1] > top_k:
        out[f"top{top_k}"] = top_k_accuracy(probs, labels, top_k)
    return out


def evaluate(probs: np.ndarray, labels: np.ndarray, class_names: list[str], top_k: int = 5) -> dict:
    """Everything a test report shows: summary, per-class precision and recall, the confusion matrix."""
    predicted = probs.argmax(axis=1)
    matrix = confusion_matrix(predicted, labels, len(class_names))
    true_pos = np.diag(matrix).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(matrix.sum(axis=0) > 0, true_pos / matrix.sum(axis=0), 0.0)
        recall = np.where(matrix.sum(axis=1) > 0, true_pos / matrix.sum(axis=1), 0.0)
    return {
        **summary(probs, labels, top_k),
        "examples": int(len(labels)),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "support": int(s)}
            for name, p, r, s in zip(class_names, precision, recall, matrix.sum(axis=1), strict=True)
        },
        "confusion_matrix": matrix.tolist(),
        "class_names": list(class_names),
    }


def format_report(result: dict, title: str = "test") -> str:
    """A readable test report: headline numbers, per-class table, confusion matrix."""
    head = f"{title}: {result['examples']} examples, loss {result['loss']:.4f}, accuracy {result['acc']:.4f}"
    top = [k for k in result if k.startswith("top")]
    head += "".join(f", {k} accuracy {result[k]:.4f}" for k in top)
    names = result["class_names"]
    width = max(8, *(len(n) for n in names))
    lines = [head, f"  {'class':<{width}} precision  recall  support"]
    for name, row in result["per_class"].items():
        lines.append(f"  {name:<{width}} {row['precision']:9.4f} {row['recall']:7.4f} {row['support']:8d}")
    if len(names) <= 20:
        cell = max(4, len(str(max(max(r) for r in result["confusion_matrix"]))) + 1)
        lines.append(f"  confusion (rows: true, columns: predicted, in class order {', '.join(names)})")
        lines += ["  " + "".join(f"{v:{cell}d}" for v in row) for row in result["confusion_matrix"]]
    return "\n".join(lines)


class Evaluation:
    """What the shared loop asks of the task: per-epoch numbers, the test report, nothing to draw."""

    def __init__(self, head: Head, cfg):
        self.head, self.cfg = head, cfg
        self.reader = Reader()

    def summary(self, predictions: np.ndarray, split) -> dict[str, float]:
        return summary(predictions, split.targets, self.cfg.top_k)

    def evaluate(self, predictions: np.ndarray, split, data) -> dict:
        return evaluate(predictions, split.targets, data.class_names, self.cfg.top_k)

    def report(self, result: dict, title: str) -> str:
        return format_report(result, title)

    def show(self, trainer, predictions: np.ndarray, split) -> None:
        """Classification draws nothing: the report is the picture."""
