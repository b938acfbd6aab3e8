"""Segmentation with PyTorch: the losses of metrics.py on NCHW (or NCDHW) outputs.

The model gives N x C x S... (channels first); the masks are N x S... class indices with the ignore index
where a pixel has no label.  When the output is smaller than the input (valid convolutions), the mask is
cropped to the output's centre first (tiles.py says why).  The numbers equal metrics.loss's (tested).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .metrics import EPS, IGNORE, SMOOTH


def centre_crop(mask: torch.Tensor, spatial: tuple[int, ...]) -> torch.Tensor:
    """The centre `spatial` of an N x S... mask (the U-Net's target for a smaller output)."""
    starts = [(n - s) // 2 for n, s in zip(mask.shape[1:], spatial)]
    return mask[(slice(None), *(slice(a, a + s) for a, s in zip(starts, spatial)))]


def log_probabilities(out: torch.Tensor, activation: str) -> torch.Tensor:
    """N x K x S... log-probabilities (K = 2 for a one-channel head: background, foreground)."""
    out = out.float()
    if out.shape[1] == 1:
        if activation == "sigmoid":
            return torch.cat([1 - out, out], dim=1).clamp(EPS, 1.0).log()
        return torch.cat([F.logsigmoid(-out), F.logsigmoid(out)], dim=1)
    if activation == "softmax":
        return out.clamp(EPS, 1.0).log()
    return F.log_softmax(out, dim=1)


def segment_loss(out, mask, kind: str, activation: str, weights=None, ignore: int = IGNORE) -> torch.Tensor:
    """ce, dice or ce+dice over the labelled pixels of the batch (metrics.py has the formulas)."""
    mask = centre_crop(mask, tuple(out.shape[2:])).long()
    logp = log_probabilities(out, activation)
    valid = mask != ignore
    label = torch.where(valid, mask, torch.zeros_like(mask))
    total = logp.new_zeros(())
    if "ce" in kind.split("+"):
        w = valid.float() if weights is None else torch.as_tensor(weights, device=out.device).float()[label] * valid
        nll = -logp.gather(1, label.unsqueeze(1)).squeeze(1)
        total = total + (w * nll).sum() / w.sum().clamp_min(1e-12)
    if "dice" in kind.split("+"):
        keep = valid.unsqueeze(1).float()
        p = logp.exp() * keep
        t = F.one_hot(label, logp.shape[1]).movedim(-1, 1).float() * keep
        axes = [0, *range(2, p.ndim)]
        dice = (2 * (p * t).sum(axes) + SMOOTH) / (p.sum(axes) + t.sum(axes) + SMOOTH)
        total = total + 1 - dice.mean()
    return total
