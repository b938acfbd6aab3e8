"""Verification's own options (the shared ones are in cnnc/tasks/runtime/config.py)."""

from __future__ import annotations

from ..runtime.config import opt

OPTIONS = (
    opt(
        "formulation",
        "triplet",
        "triplet: max(d(A,P) - d(A,N) + margin, 0) over mined triplets (FaceNet); pair: "
        "sigmoid(sum_k w_k |f_i - f_j|_k + b) on same/different pairs (DeepFace)",
        "verification",
        choices=("triplet", "pair"),
    ),
    opt(
        "mining",
        "semi-hard",
        "which triplets of a P x K batch: batch-hard (per anchor the farthest positive and "
        "nearest negative), semi-hard (per positive pair the nearest negative farther than the positive), "
        "batch-all (every triplet that still contributes)",
        "verification",
        choices=("batch-hard", "semi-hard", "batch-all"),
    ),
    opt("margin", 0.2, "alpha of the triplet loss", "verification"),
    opt(
        "distance",
        "squared",
        "d(x1, x2): squared (||f(x1) - f(x2)||^2, the material's) or euclidean",
        "verification",
        choices=("squared", "euclidean"),
    ),
    opt("normalize_embedding", True, "L2-normalise f(x) to unit length (FaceNet)", "verification"),
    opt(
        "pair_features",
        "abs",
        "the pair loss's features: abs |f_i - f_j| or chi2 (f_i - f_j)^2 / (|f_i| + |f_j|)",
        "verification",
        choices=("abs", "chi2"),
    ),
    opt("identities_per_batch", 8, "P: identities in a training batch", "verification"),
    opt("images_per_identity", 4, "K: images of each identity in a training batch", "verification"),
    opt(
        "mixed_sizes",
        "error",
        "images of several sizes in an identity folder: error, or resize each to the model's input",
        "verification",
        choices=("error", "resize"),
    ),
)
WITHOUT = ()
