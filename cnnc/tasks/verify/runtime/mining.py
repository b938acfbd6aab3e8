"""Distances, triplet selection and the two losses in numpy: the reference the frameworks are tested against.

The material's encoding f(x) is compared by d(x1, x2) = ||f(x1) - f(x2)||^2
(`squared=True`, FaceNet) or its square root (Hermans, Beyer, Leibe 2017, "In
defense of the triplet loss", train on the plain Euclidean distance).  The
square root is taken of max(d, 1e-12) so its gradient stays finite where two
embeddings coincide; the frameworks do the same, so the numbers agree.

Triplet selection, per batch of P identities x K images (sampling.py):

- batch-all: every valid (a, p, n): label(a) = label(p), a != p, label(n) != label(a);
  the mean is over the triplets that still contribute (loss > 0), as Hermans et al.
  do, so easy triplets do not dilute the gradient as training goes on.
- batch-hard: per anchor, the farthest positive and the nearest negative
  (Hermans et al.); anchors without a positive or a negative are left out.
- semi-hard: per positive pair (a, p), the nearest negative that is still farther
  than p, d(a, p) < d(a, n) (FaceNet, Schroff et al. 2015: "choose triplets that are
  hard to train on", but not the hardest, which collapse training early); where no
  negative is farther, the farthest negative (as TensorFlow Addons' triplet_semihard_loss).

`reduction="sum"` is the material's sum over triplets; "mean" divides by the
count above (active triplets, anchors, positive pairs).
"""

from __future__ import annotations

import numpy as np

MINING = ("batch-hard", "semi-hard", "batch-all")
PAIR_FEATURES = ("abs", "chi2")
SQRT_FLOOR = 1e-12  # d is floored here before its square root (finite gradient at d = 0)
CHI2_EPS = 1e-7  # in the chi-square denominator, for two features that are both 0
ACTIVE_EPS = 1e-16  # a batch-all triplet counts as active above this loss


def l2_normalize(emb: np.ndarray) -> np.ndarray:
    """Each embedding scaled to unit length (FaceNet's ||f(x)||_2 = 1), 1e-12 floor on the norm."""
    emb = np.asarray(emb, dtype=np.float64)
    return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)


def distance_matrix(emb: np.ndarray, squared: bool = True) -> np.ndarray:
    """N x N distances between the rows of `emb`, from their differences (exact, no expansion)."""
    emb = np.asarray(emb, dtype=np.float64)
    d = ((emb[:, None, :] - emb[None, :, :]) ** 2).sum(axis=-1)
    return d if squared else np.sqrt(np.maximum(d, SQRT_FLOOR))


def masks(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positive, negative): same identity and not the same example; another identity."""
    labels = np.asarray(labels).reshape(-1)
    same = labels[:, None] == labels[None, :]
    return same & ~np.eye(len(labels), dtype=bool), ~same


def batch_all(labels: np.ndarray) -> np.ndarray:
    """Every valid triplet as rows (a, p, n), in (a, p, n) order."""
    pos, neg = masks(labels)
    valid = pos[:, :, None] & neg[:, None, :]
    return np.argwhere(valid)


def batch_hard(d: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per anchor with a positive and a negative: (a, farthest positive, nearest negative)."""
    pos, neg = masks(labels)
    anchors = np.flatnonzero(pos.any(axis=1) & neg.any(axis=1))
    far = np.where(pos, d, -np.inf).argmax(axis=1)
    near = np.where(neg, d, np.inf).argmin(axis=1)
    return np.stack([anchors, far[anchors], near[anchors]], axis=1).reshape(-1, 3)


def semi_hard(d: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per positive pair (a, p) whose anchor has a negative: (a, p, n), n the nearest negative with
    d(a, n) > d(a, p), or the farthest negative where there is none."""
    pos, neg = masks(labels)
    rows = []
    for a, p in np.argwhere(pos & neg.any(axis=1)[:, None]):
        negatives = np.flatnonzero(neg[a])
        farther = negatives[d[a, negatives] > d[a, p]]
        n = farther[d[a, farther].argmin()] if len(farther) else negatives[d[a, negatives].argmax()]
        rows.append((a, p, n))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def select(d: np.ndarray, labels: np.ndarray, mining: str) -> np.ndarray:
    """The triplets `mining` chooses in a batch."""
    if mining == "batch-all":
        return batch_all(labels)
    if mining == "batch-hard":
        return batch_hard(d, labels)
    if mining == "semi-hard":
        return semi_hard(d, labels)
    raise ValueError(f"mining is one of {', '.join(MINING)}, not {mining!r}")


def triplet_loss(
    emb: np.ndarray,
    labels: np.ndarray,
    alpha: float = 0.2,
    mining: str = "batch-hard",
    squared: bool = True,
    reduction: str = "mean",
) -> float:
    """The material's max(d(A, P) - d(A, N) + alpha, 0) over the triplets `mining` selects."""
    d = distance_matrix(emb, squared)
    t = select(d, labels, mining)
    losses = np.maximum(d[t[:, 0], t[:, 1]] - d[t[:, 0], t[:, 2]] + alpha, 0.0)
    if reduction == "sum":
        return float(losses.sum())
    count = int((losses > ACTIVE_EPS).sum()) if mining == "batch-all" else len(losses)
    return float(losses.sum() / max(count, 1))


# ---------------------------------------------------------------- the binary (pair) formulation


def pair_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every unordered pair i < j of a batch of n, row-major (the order both frameworks use)."""
    return np.triu_indices(n, k=1)


def pair_features(emb: np.ndarray, kind: str = "abs") -> np.ndarray:
    """Per pair i < j: |f_i - f_j| (DeepFace's weighted L1) or the chi-square terms
    (f_i - f_j)^2 / (|f_i| + |f_j|); DeepFace's features are non-negative, the absolute
    values keep the terms defined for signed embeddings."""
    emb = np.asarray(emb, dtype=np.float64)
    i, j = pair_indices(len(emb))
    diff = emb[i] - emb[j]
    if kind == "abs":
        return np.abs(diff)
    if kind == "chi2":
        return diff**2 / (np.abs(emb[i]) + np.abs(emb[j]) + CHI2_EPS)
    raise ValueError(f"pair features are one of {', '.join(PAIR_FEATURES)}, not {kind!r}")


def pair_logits(emb: np.ndarray, w: np.ndarray, b: float, kind: str = "abs") -> np.ndarray:
    """sum_k w_k feature_k + b per pair; sigmoid of it is the probability of the same identity."""
    return pair_features(emb, kind) @ np.asarray(w, dtype=np.float64).reshape(-1) + float(b)


def pair_loss(emb: np.ndarray, labels: np.ndarray, w: np.ndarray, b: float, kind: str = "abs") -> float:
    """Binary cross-entropy of sigmoid(logit) against same/different, over every pair of the batch,
    balanced: half the weight on same pairs and half on different ones (a P x K batch has far more
    different pairs; unbalanced, predicting `different` everywhere is already a low loss)."""
    labels = np.asarray(labels).reshape(-1)
    i, j = pair_indices(len(labels))
    same = labels[i] == labels[j]
    z = pair_logits(emb, w, b, kind)
    bce = np.maximum(z, 0) - z * same + np.log1p(np.exp(-np.abs(z)))  # stable log(1 + e^z) - z * y
    parts = [bce[same].mean() if same.any() else 0.0, bce[~same].mean() if (~same).any() else 0.0]
    return float(0.5 * parts[0] + 0.5 * parts[1]) if same.any() and (~same).any() else float(sum(parts))
