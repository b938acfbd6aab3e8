"""Segmentation with PyTorch: the losses of metrics.py on NCHW (or NCDHW) outputs, and what the shared
Trainer asks of the task (the step itself is written in train.py).

The model gives N x C x S... (channels first); the masks are N x S... class indices with the ignore index
where a pixel has no label.  When the output is smaller than the input (valid convolutions), the mask is
cropped to the output's centre first (tiles.py says why).  The numbers equal metrics.loss's (tested).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .common import AxisFlips as AxisFlips  # train.py wraps the augmentation: flips per axis
from .common import Evaluation, SegmentHead
from .common import Reader as Reader  # train.py reads the data through the task's framework file
from .metrics import EPS, IGNORE, SMOOTH


def centre_crop(mask: torch.Tensor, spatial: tuple[int, ...]) -> torch.Tensor:
    """The centre `spatial` of an N x S... mask (the U-Net's target for a smaller output)."""
    starts = [(n - s) // 2 for n, s in zip(mask.shape[1:], spatial, strict=True)]
    return mask[(slice(None), *(slice(a, a + s) for a, s in zip(starts, spatial, strict=True)))]


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


class Segment(Evaluation):
    """The task for the shared Trainer: `step` comes from train.py; predictions are channels-last."""

    def __init__(self, head: SegmentHead, cfg, step, colours=None):
        super().__init__(head, cfg, colours)
        self._step = step

    def step(self, net, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._step(net, x, y, self.cfg)

    def running(self, out: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        return []

    def predictions(self, out: torch.Tensor) -> torch.Tensor:
        return out.float().movedim(1, -1)

    def tile_predictor(self, trainer):
        """Batches of channels-last tiles (numpy) to the model's channels-last output (numpy)."""

        @torch.inference_mode()
        def predict(tiles):
            trainer.model.eval()
            x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(tiles, -1, 1))).to(trainer.env.device)
            return trainer.model(x).float().movedim(1, -1).cpu().numpy()

        return predict
