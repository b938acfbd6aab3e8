"""Verification and one-shot recognition numbers from embeddings, numpy.

Every unordered pair of a split's examples is a trial: same identity or not.
A pair's dissimilarity is d(x1, x2) for the triplet loss, or minus the pair head's
logit for the binary formulation (`Measure`); `same` is predicted where it is
<= tau.

- tau is chosen on the validation split: the threshold with the best verification
  accuracy there, placed halfway to the next observed value.
- Verification accuracy is balanced, (TAR + TRR) / 2 at tau: the accuracy on a set
  with as many same pairs as different ones, as LFW's protocol builds it (over all
  pairs, different ones outnumber same ones about (identities - 1) to 1).
- ROC: TAR (same pairs accepted) against FAR (different pairs accepted) over every
  threshold; AUC by the trapezoid rule; TAR at FAR f is the best TAR with FAR <= f
  (with fewer than 1/f different pairs this is TAR at FAR 0; `pairs` says how many).
- One-shot recognition: a gallery of one image per identity (the first of a seeded
  permutation of each identity's images), every other image a probe; top-1 is the
  nearest gallery entry, and a probe whose nearest entry is farther than tau is
  "not recognised".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mining import SQRT_FLOOR, pair_indices


@dataclass(frozen=True)
class Measure:
    """How two embeddings are compared: the training distance, or the trained pair head."""

    squared: bool = True
    pair_weight: tuple[float, ...] | None = None  # the binary formulation's w, when it was trained
    pair_bias: float = 0.0
    pair_features: str = "abs"

    def between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """len(a) x len(b) dissimilarities."""
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        diff = a[:, None, :] - b[None, :, :]
        if self.pair_weight is None:
            d = (diff**2).sum(axis=-1)
            return d if self.squared else np.sqrt(np.maximum(d, SQRT_FLOOR))
        if self.pair_features == "chi2":
            features = diff**2 / (np.abs(a)[:, None, :] + np.abs(b)[None, :, :] + 1e-7)
        else:
            features = np.abs(diff)
        return -(features @ np.asarray(self.pair_weight, dtype=np.float64) + self.pair_bias)


def pairs(emb: np.ndarray, identities: np.ndarray, measure: Measure) -> tuple[np.ndarray, np.ndarray]:
    """(dissimilarity, same) for every pair i < j of a split."""
    identities = np.asarray(identities).reshape(-1)
    i, j = pair_indices(len(identities))
    return measure.between(emb, emb)[i, j], identities[i] == identities[j]


def roc(dissimilarity: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(FAR, TAR, thresholds): one point per distinct dissimilarity, accepting pairs <= the threshold,
    starting from (0, 0) at -inf."""
    order = np.argsort(dissimilarity, kind="stable")
    d, s = np.asarray(dissimilarity)[order], np.asarray(same, dtype=bool)[order]
    last = np.r_[np.flatnonzero(np.diff(d)), len(d) - 1]  # the last index of each run of equal values
    tp, fp = np.cumsum(s)[last], np.cumsum(~s)[last]
    tar = np.r_[0.0, tp / max(int(s.sum()), 1)]
    far = np.r_[0.0, fp / max(int((~s).sum()), 1)]
    return far, tar, np.r_[-np.inf, d[last]]


def auc(far: np.ndarray, tar: np.ndarray) -> float:
    """Area under the ROC curve, trapezoids."""
    return float(np.sum(np.diff(far) * (tar[1:] + tar[:-1]) / 2))


def tar_at_far(far: np.ndarray, tar: np.ndarray, target: float) -> float:
    return float(tar[far <= target].max())


def choose_threshold(dissimilarity: np.ndarray, same: np.ndarray) -> float:
    """tau with the best balanced accuracy, halfway between the accepted and the next observed value."""
    far, tar, thresholds = roc(dissimilarity, same)
    best = int(np.argmax((tar + 1 - far) / 2))
    if best == 0:
        return float(thresholds[1]) - 1e-6 if len(thresholds) > 1 else 0.0
    if best == len(thresholds) - 1:
        return float(thresholds[best])
    return float((thresholds[best] + thresholds[best + 1]) / 2)


def verification(dissimilarity: np.ndarray, same: np.ndarray, tau: float) -> dict:
    """Numbers at tau and over every threshold."""
    same = np.asarray(same, dtype=bool)
    accept = np.asarray(dissimilarity) <= tau
    tar_tau = float(accept[same].mean()) if same.any() else float("nan")
    trr_tau = float((~accept[~same]).mean()) if (~same).any() else float("nan")
    far, tar, _ = roc(dissimilarity, same)
    return {
        "accuracy": (tar_tau + trr_tau) / 2,
        "pair_accuracy": float((accept == same).mean()),
        "tar": tar_tau,
        "far": 1 - trr_tau,
        "auc": auc(far, tar),
        "tar_at_far_1e-2": tar_at_far(far, tar, 1e-2),
        "tar_at_far_1e-3": tar_at_far(far, tar, 1e-3),
        "tau": float(tau),
        "same_pairs": int(same.sum()),
        "different_pairs": int((~same).sum()),
    }


def gallery_split(identities: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(gallery, probes) indices: one seeded image per identity in the gallery, the rest probes."""
    identities = np.asarray(identities).reshape(-1)
    rng = np.random.default_rng((seed, 15485863))
    gallery = np.asarray([rng.choice(np.flatnonzero(identities == i)) for i in np.unique(identities)], np.int64)
    return gallery, np.setdiff1d(np.arange(len(identities)), gallery)


def recognise(probes: np.ndarray, gallery: np.ndarray, tau: float, measure: Measure) -> tuple[np.ndarray, np.ndarray]:
    """Per probe: the index of the nearest gallery entry, or -1 ("not recognised") where even that one is
    farther than tau; and that nearest dissimilarity."""
    d = measure.between(probes, gallery)
    nearest = d.argmin(axis=1)
    best = d[np.arange(len(d)), nearest]
    return np.where(best <= tau, nearest, -1), best


def one_shot(emb: np.ndarray, identities: np.ndarray, tau: float, measure: Measure, seed: int = 0) -> dict:
    """Top-1 accuracy of one-shot recognition, and with the "not recognised" rule at tau."""
    identities = np.asarray(identities).reshape(-1)
    gallery, probes = gallery_split(identities, seed)
    if not len(probes):
        return {
            "top1": float("nan"),
            "top1_at_tau": float("nan"),
            "not_recognised": float("nan"),
            "probes": 0,
            "gallery": int(len(gallery)),
        }
    found, _ = recognise(emb[probes], emb[gallery], tau, measure)
    nearest, _ = recognise(emb[probes], emb[gallery], np.inf, measure)
    truth, named = identities[probes], identities[gallery]
    return {
        "top1": float((named[nearest] == truth).mean()),
        "top1_at_tau": float(((found >= 0) & (named[np.maximum(found, 0)] == truth)).mean()),
        "not_recognised": float((found < 0).mean()),
        "probes": int(len(probes)),
        "gallery": int(len(gallery)),
    }
