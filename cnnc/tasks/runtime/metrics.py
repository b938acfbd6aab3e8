"""Classification metrics from predicted class probabilities, framework-neutral.

Every framework file turns its model's output into an N x K array of class
probabilities (a sigmoid head with one unit becomes [1 - p, p]); everything
here works on that array and the integer labels.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-7  # Keras' epsilon: log-probabilities are clipped to it


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
    out = {"loss": cross_entropy(probs, labels),
           "acc": float((probs.argmax(axis=1) == labels).mean()) if len(labels) else float("nan")}
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
    return {**summary(probs, labels, top_k), "examples": int(len(labels)),
            "per_class": {name: {"precision": float(p), "recall": float(r), "support": int(s)}
                          for name, p, r, s in zip(class_names, precision, recall, matrix.sum(axis=1),
                                                   strict=True)},
            "confusion_matrix": matrix.tolist(), "class_names": list(class_names)}


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
