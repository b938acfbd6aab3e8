"""Verification with PyTorch: the array operations the shared losses are written in (losses.py), the
pair head of the binary formulation, L2 normalisation, the spec's network as an encoding f(x) (`Verifier`)
and what the shared Trainer asks of the task (`Verify`).  The training step is written in train.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import losses
from .common import Evaluation, VerifyHead
from .common import Reader as Reader  # train.py reads the data through the task's framework file
from .common import save_normalizer as save_normalizer
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


def pair_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Balanced binary cross-entropy of a batch's N x N pair logits (i < j) against same/different."""
    return losses.pair_loss_from_logits(OPS, logits, labels)


class Verifier(nn.Module):
    """The spec's network as the encoding f(x): one input, or a siamese network's two inputs with shared
    weights (the batch's first half through one, the rest through the other: one function, so the halves'
    embeddings are of one kind).  In training with the pair formulation it also returns the batch's pair
    logits, so the pair head runs inside forward (DDP synchronises only what forward uses).

    The network's layers are this module's own children, not under a `net.` prefix: its weights files are
    the spec model's state dict (plus `pair.weight`, `pair.bias`), so they load into model.py as they are
    (--weights, --eval-only, transfer learning) and the spec model's files load here."""

    def __init__(self, net: nn.Module, head: VerifyHead, cfg):
        super().__init__()
        object.__setattr__(self, "net", net)  # not a registered child: its children are ours, by name
        for name, child in net.named_children():
            self.add_module(name, child)
        for name, param in net.named_parameters(recurse=False):
            self.register_parameter(name, param)
        self.siamese, self.normalize = head.siamese, cfg.normalize_embedding
        self.pair = (
            PairHead(head.dim, cfg.pair_features).to(next(net.parameters()).device)
            if cfg.formulation == "pair"
            else None
        )

    def _embeddings(self, x: torch.Tensor) -> torch.Tensor:  # private: a spec may name a layer `embed`
        if self.siamese:
            half = (len(x) + 1) // 2
            emb = torch.cat(self.net(x[:half], x[half:]), dim=0)
        else:
            emb = self.net(x)
        return l2_normalize(emb) if self.normalize else emb.float()

    def train(self, mode: bool = True):
        self.net.training = mode  # its children follow through ours
        return super().train(mode)

    def forward(self, x: torch.Tensor):
        emb = self._embeddings(x)
        return (emb, self.pair(emb)) if self.pair is not None and self.training else emb


class Verify(Evaluation):
    """The task for the shared Trainer: `step` comes from train.py; batches are P identities x K images."""

    def __init__(self, head: VerifyHead, cfg, step, model: Verifier):
        super().__init__(head, cfg)
        self._step, self.model = step, model

    def step(self, net, x: torch.Tensor, y: torch.Tensor):
        return self._step(net, x, y, self.cfg)

    def running(self, out, y: torch.Tensor) -> list[torch.Tensor]:
        return []

    def predictions(self, out) -> torch.Tensor:
        return out.float()

    def pair_parameters(self):
        if self.model.pair is None:
            return None
        return self.model.pair.weight.detach().cpu().double().numpy(), float(self.model.pair.bias.detach().cpu())


class Encoder:
    """The trained encoding for verify.py and recognize.py: train.py's CONFIG and HEAD, the best weights."""

    def __init__(self, build_model, inputs: dict, head: VerifyHead, config: dict, weights: str | None = None):
        cfg = SimpleNamespace(**config)
        channels, *size = inputs[head.inputs[0]]
        self.shape = (*size, channels)  # channels-last, as images are read
        self.weights = weights or str(Path(cfg.out) / "best.pt")
        if not Path(self.weights).is_file():
            from ...runtime.config import ConfigError

            raise ConfigError(f"no weights file {self.weights}: train first, or give --weights")
        self.model = Verifier(build_model(), head, cfg)
        self.model.load_state_dict(torch.load(self.weights, map_location="cpu", weights_only=True))
        self.model.eval()
        self.task = Verify(head, cfg, None, self.model)

    @torch.inference_mode()
    def encode(self, x: np.ndarray) -> np.ndarray:
        """Encodings of channels-last images (scaled as in training)."""
        return self.model(torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))).double().numpy()

    def measure(self):
        return self.task.measure()
