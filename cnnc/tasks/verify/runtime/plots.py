"""Pictures of a verification result: the ROC curve and the same/different dissimilarity histograms (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_roc(path: Path, far: np.ndarray, tar: np.ndarray, numbers: dict, title: str = "") -> None:
    """TAR against FAR, linear and with FAR on a log axis (where TAR at FAR 1e-3 is read)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, log in zip(axes, (False, True), strict=True):
        ax.plot(far, tar, drawstyle="steps-post", label=f"AUC {numbers['auc']:.4f}")
        ax.scatter([numbers["far"]], [numbers["tar"]], color="C3", zorder=3, label=f"tau {numbers['tau']:.4g}")
        if log:
            ax.set_xscale("log")
            ax.set_xlim(max(1e-4, 0.5 / max(numbers["different_pairs"], 1)), 1)
        ax.set_xlabel("false accept rate (different pairs accepted)")
        ax.set_ylabel("true accept rate (same pairs accepted)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.suptitle(title or "ROC")
    _save(plt, fig, path)


def plot_histograms(path: Path, dissimilarity: np.ndarray, same: np.ndarray, tau: float, label: str) -> None:
    """Histograms of the dissimilarity of same and of different pairs, densities, tau marked."""
    plt = _pyplot()
    same = np.asarray(same, dtype=bool)
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.histogram_bin_edges(dissimilarity, bins=50)
    for mask, name in ((same, "same identity"), (~same, "different identities")):
        if mask.any():
            ax.hist(dissimilarity[mask], bins=bins, density=True, alpha=0.5, label=f"{name} ({int(mask.sum())})")
    ax.axvline(tau, color="k", linestyle="--", label=f"tau {tau:.4g}")
    ax.set_xlabel(label)
    ax.set_ylabel("density")
    ax.legend()
    _save(plt, fig, path)


def _save(plt, fig, path: Path) -> None:
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png", dpi=80)  # written aside, then moved: never a half-written picture
    tmp.replace(path)
    plt.close(fig)
