"""Verification with PyTorch: the array operations the shared losses are written in (losses.py), the
pair head of the binary formulation, and L2 normalisation of the embedding."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import losses
from .mining import PAIR_FEATURES


class TorchOps:
    """losses.py's `xp` for torch tensors."""

    where = staticmethod(torch.where)
    sqrt = staticmethod(torch.sqrt)
    abs = staticmethod(torch.abs)
    exp = staticmethod(torch.exp)
    log1p = staticmethod(torch.log1p)
    relu = staticmethod(torch.relu)

    @staticmethod
    def rows(x: torch.Tensor) -> torch.Tensor:
        """0..N-1 for the rows of x, on x's device."""
        return torch.arange(x.shape[0], device=x.device)

    @staticmethod
    def sum(x: torch.Tensor, axis: int | None = None) -> torch.Tensor:
        return x.sum() if axis is None else x.sum(dim=axis)

    @staticmethod
    def max(x: torch.Tensor, axis: int) -> torch.Tensor:
        return x.amax(dim=axis)

    @staticmethod
    def min(x: torch.Tensor, axis: int) -> torch.Tensor:
        return x.amin(dim=axis)

    @staticmethod
    def any(x: torch.Tensor, axis: int | None = None) -> torch.Tensor:
        return x.any() if axis is None else x.any(dim=axis)

    @staticmethod
    def maximum(x: torch.Tensor, floor: float) -> torch.Tensor:
        return x.clamp_min(floor)

    @staticmethod
    def float(x: torch.Tensor) -> torch.Tensor:
        return x.float()


OPS = TorchOps()


def l2_normalize(emb: torch.Tensor) -> torch.Tensor:
    """Unit-length embeddings (FaceNet), the norm floored at 1e-12 as mining.l2_normalize."""
    return F.normalize(emb.float(), dim=1, eps=1e-12)


def triplet_loss(
    emb: torch.Tensor,
    labels: torch.Tensor,
    alpha: float = 0.2,
    mining: str = "batch-hard",
    squared: bool = True,
    reduction: str = "mean",
) -> torch.Tensor:
    """max(d(A, P) - d(A, N) + alpha, 0) over the mined triplets of a P x K batch (losses.py)."""
    return losses.triplet_loss(OPS, emb, labels, alpha, mining, squared, reduction)


class PairHead(nn.Module):
    """DeepFace's verification head: p(same) = sigmoid(sum_k w_k feature_k(f_i, f_j) + b), the features
    |f_i - f_j| or the chi-square terms; w starts at -1 (a larger difference, less likely the same)."""

    def __init__(self, dim: int, kind: str = "abs"):
        super().__init__()
        if kind not in PAIR_FEATURES:
            raise ValueError(f"pair features are one of {', '.join(PAIR_FEATURES)}, not {kind!r}")
        self.kind = kind
        self.weight = nn.Parameter(torch.full((dim,), -1.0))
        self.bias = nn.Parameter(torch.ones(()))

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        """The batch's N x N pair logits (i < j are the pairs)."""
        return losses.pair_logit_matrix(OPS, emb, self.weight, self.bias, self.kind)

    def loss(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return losses.pair_loss_from_logits(OPS, self(emb), labels)
