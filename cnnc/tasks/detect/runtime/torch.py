"""Detection with PyTorch: the YOLO loss's array functions (yolo.py writes the loss once for every framework)
and what the shared Trainer asks of the task."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import yolo
from .common import DetectHead, Evaluation
from .common import Reader as Reader  # train.py reads the data through the task's framework file
from .common import find_anchors as find_anchors
from .common import predict_folder as predict_folder


class TorchOps:
    """yolo.NumpyOps' functions on torch tensors (float32 on the model's device)."""

    def tensor(self, value, like=None):
        like_dtype = like.dtype if like is not None and like.is_floating_point() else torch.float32
        return torch.as_tensor(np.asarray(value), dtype=like_dtype, device=None if like is None else like.device)

    sigmoid = staticmethod(torch.sigmoid)
    softplus = staticmethod(F.softplus)
    floor = staticmethod(torch.floor)
    log = staticmethod(torch.log)
    minimum = staticmethod(torch.minimum)

    def log_softmax(self, x):
        return F.log_softmax(x, dim=-1)

    def one_hot(self, index, depth: int, like=None):
        return F.one_hot(index.long(), depth).to(like.dtype if like is not None else torch.float32)

    def argmax(self, x):
        return torch.argmax(x, dim=-1)

    def clip(self, x, low: float, high: float):
        return torch.clamp(x, low, high)

    def cumsum(self, x, axis: int):
        return torch.cumsum(x, dim=axis)

    def equal(self, x, value: float):
        return (x == value).to(x.dtype)

    def stack(self, xs):
        return torch.stack(xs, dim=-1)

    def reshape(self, x, shape):
        return torch.reshape(x, shape)

    def einsum(self, formula: str, *xs):
        return torch.einsum(formula, *xs)

    def total(self, x):
        return x.sum()

    def per_image(self, x):
        return x.reshape(x.shape[0], -1).sum(dim=1)


OPS = TorchOps()


def loss_terms(out: torch.Tensor, boxes: torch.Tensor, anchors: np.ndarray, classes: int) -> dict:
    """yolo.loss_terms of a PyTorch output (N x A(5 + C) x S_h x S_w): moved channels-last first.  In float32
    even under mixed precision: autocast would run the einsums of the assignment and the sums in float16."""
    with torch.autocast(out.device.type, enabled=False):
        raw = out.float().permute(0, 2, 3, 1)
        return yolo.loss_terms(raw, boxes.float(), anchors, classes, OPS)


class Detect(Evaluation):
    """The task for the shared Trainer: `step` comes from train.py (the forward pass and the weighted loss)."""

    def __init__(self, head: DetectHead, cfg, anchors: np.ndarray, names: list[str], size, step, log=print):
        super().__init__(head, cfg, anchors, names, size, log)
        self._step = step

    def step(self, net, x: torch.Tensor, y: torch.Tensor):
        loss, out, terms = self._step(net, x, y, self.anchors, self.cfg)
        return loss, (out, terms)

    def running(self, outputs, y: torch.Tensor) -> list[torch.Tensor]:
        """The loss terms of the step, as sums over its images (the progress bar and log.csv show them)."""
        _, terms = outputs
        return [terms[name].detach().double() * len(y) for name in yolo.TERMS]

    def predictions(self, out: torch.Tensor) -> torch.Tensor:
        return out.float().permute(0, 2, 3, 1)  # channels-last, as the evaluation reads the grid
