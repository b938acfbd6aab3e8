"""Verification, framework-neutral: the head record, the identities reader, evaluation and the report.

Targets are identity labels (int64, one per image).  The framework file turns
its model's output into embeddings (N x dim, L2-normalised with --normalize-
embedding), and everything here reads those: the pairs of a split, the
threshold tau chosen on the validation split, verification and one-shot numbers
(evaluate.py) and their pictures (plots.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...runtime.config import ConfigError
from ...runtime.data import Source
from ...runtime.loop import write_text
from . import evaluate, identities, mining, plots
from .sampling import pk_batches

VAL_LOSS_SAMPLE = 256  # the validation loss is the training loss on this many seeded examples (batch-all is N^3)


@dataclass(frozen=True)
class VerifyHead:
    """What cnnc found in the spec: written into the script as `HEAD = VerifyHead(...)`."""

    inputs: tuple[str, ...]  # one (an embedding network) or two (siamese, shared weights)
    output: str  # the embedding read (a siamese network's first output)
    dim: int  # its width
    siamese: bool = False


def save_normalizer(cfg, normalizer, is_main: bool = True) -> None:
    """<out>/normalizer.json: the training split's scaling, which verify.py and recognize.py apply too."""
    if is_main:
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        write_text(Path(cfg.out) / "normalizer.json", normalizer.to_json() + "\n")


class Reader:
    """Identity labels: a folder with a subfolder per person (LFW), or a .npz with `identities` (or `y`)."""

    def __init__(self, mixed_sizes: str = "error"):
        self.mixed_sizes = mixed_sizes

    def files(self, path: Path) -> Source:
        paths, ids, names, notes = identities.scan_identity_folders(path, self.mixed_sizes)
        return Source(targets=ids, paths=paths, class_names=names, notes=notes)

    def arrays(self, arrays: dict, suffix: str, count: int, path: Path) -> np.ndarray:
        return identities.identity_arrays(arrays, suffix, count, path)

    def class_names(self, arrays: dict, targets: np.ndarray, path: Path) -> list[str]:
        return identities.identity_names(arrays, targets, path)

    def strata(self, targets: np.ndarray) -> np.ndarray:
        return np.asarray(targets).reshape(-1)

    def split(self, targets: np.ndarray, fractions, seed: int) -> list[np.ndarray]:
        return identities.identity_split(targets, fractions, seed)  # never the same person in two splits

    def follow(self, target: np.ndarray, geometry) -> np.ndarray:
        return target  # an identity does not move with the image


class Evaluation:
    """The task's side of evaluation; the framework file adds the pair head's weights (`pair_parameters`)
    and train.py binds `predict_val` (the validation embeddings under the weights being tested)."""

    running_names: tuple[str, ...] = ()

    def __init__(self, head: VerifyHead, cfg):
        self.head, self.cfg = head, cfg
        self.prediction_shape = (head.dim,)
        self.predict_val = None

    def pair_parameters(self) -> tuple[np.ndarray, float] | None:
        return None

    def train_batches(self, identities: np.ndarray, epoch: int, rank: int, world: int) -> list[np.ndarray]:
        """The shared runtime's hook for the training batches: P identities x K images (sampling.py)."""
        cfg = self.cfg
        try:
            return pk_batches(
                identities, cfg.identities_per_batch, cfg.images_per_identity, cfg.seed, epoch, rank, world
            )
        except ValueError as exc:  # too few identities with two images, or P, K too small: the user's setting
            raise ConfigError(str(exc)) from None

    def measure(self) -> evaluate.Measure:
        pair = self.pair_parameters() if self.cfg.formulation == "pair" else None
        if pair is None:
            return evaluate.Measure(squared=self.cfg.distance == "squared")
        return evaluate.Measure(
            pair_weight=tuple(float(v) for v in pair[0]), pair_bias=float(pair[1]), pair_features=self.cfg.pair_features
        )

    def _loss(self, emb: np.ndarray, ids: np.ndarray) -> float:
        rng = np.random.default_rng(self.cfg.seed)
        keep = np.sort(rng.choice(len(ids), size=min(VAL_LOSS_SAMPLE, len(ids)), replace=False))
        if self.cfg.formulation == "pair":
            w, b = self.pair_parameters()
            return mining.pair_loss(emb[keep], ids[keep], w, b, self.cfg.pair_features)
        return mining.triplet_loss(
            emb[keep], ids[keep], self.cfg.margin, self.cfg.mining, self.cfg.distance == "squared"
        )

    def summary(self, predictions: np.ndarray, split) -> dict[str, float]:
        """Per epoch on the validation split: the loss, ROC AUC, and accuracy at the split's own best tau."""
        ids = np.asarray(split.targets).reshape(-1)
        dis, same = evaluate.pairs(predictions, ids, self.measure())
        numbers = evaluate.verification(dis, same, evaluate.choose_threshold(dis, same))
        return {
            "loss": self._loss(predictions, ids),
            "auc": numbers["auc"],
            "accuracy": numbers["accuracy"],
            "tar_at_far_1e-2": numbers["tar_at_far_1e-2"],
        }

    def threshold(self, test_dis: np.ndarray, test_same: np.ndarray) -> tuple[float, str]:
        """tau from the validation split's pairs (the test split's own, said, where there is none)."""
        val = self.predict_val() if self.predict_val is not None else None
        if val is not None and len(val[0]) > 1:
            dis, same = evaluate.pairs(val[0], val[1], self.measure())
            if same.any() and (~same).any():
                return evaluate.choose_threshold(dis, same), "validation"
        return evaluate.choose_threshold(test_dis, test_same), "test (no usable validation split: optimistic)"

    def evaluate(self, predictions: np.ndarray, split, data) -> dict:
        ids = np.asarray(split.targets).reshape(-1)
        measure = self.measure()
        dis, same = evaluate.pairs(predictions, ids, measure)
        tau, chosen_on = self.threshold(dis, same)
        self._pairs = (dis, same)
        return {
            "verification": evaluate.verification(dis, same, tau),
            "tau_chosen_on": chosen_on,
            "one_shot": evaluate.one_shot(predictions, ids, tau, measure, self.cfg.seed),
            "identities": identities.describe(ids),
            "dissimilarity": _dissimilarity_name(self.cfg),
        }

    def report(self, result: dict, title: str) -> str:
        v, o = result["verification"], result["one_shot"]
        return "\n".join(
            [
                f"{title}: {result['identities']} (never seen in training)",
                f"  verification: accuracy {v['accuracy']:.4f} at tau {v['tau']:.4g} "
                f"(chosen on {result['tau_chosen_on']}), TAR {v['tar']:.4f} FAR {v['far']:.4f}",
                f"  ROC AUC {v['auc']:.4f}, TAR at FAR 1e-2 {v['tar_at_far_1e-2']:.4f}, at FAR 1e-3 "
                f"{v['tar_at_far_1e-3']:.4f} ({v['same_pairs']} same, {v['different_pairs']} different pairs)",
                f"  one-shot recognition (gallery of {o.get('gallery', 0)}, one image per identity): top-1 "
                f"{o['top1']:.4f}, within tau {o['top1_at_tau']:.4f}, not recognised {o['not_recognised']:.4f} "
                f"of {o['probes']} probes",
            ]
        )

    def show(self, trainer, predictions: np.ndarray, split) -> None:
        """roc.png and distances.png in the run folder, from the pairs `evaluate` scored."""
        dis, same = getattr(self, "_pairs", evaluate.pairs(predictions, split.targets, self.measure()))
        out = Path(self.cfg.out)
        result = evaluate.verification(dis, same, self.threshold(dis, same)[0])
        far, tar, _ = evaluate.roc(dis, same)
        plots.plot_roc(out / "roc.png", far, tar, result, "ROC on the test identities")
        plots.plot_histograms(out / "distances.png", dis, same, result["tau"], _dissimilarity_name(self.cfg))


def _dissimilarity_name(cfg) -> str:
    if cfg.formulation == "pair":
        return "minus the pair head's logit"
    return "||f(x1) - f(x2)||^2" if cfg.distance == "squared" else "||f(x1) - f(x2)||"
