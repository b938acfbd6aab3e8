"""Landmarks with PyTorch: what the shared Trainer asks of the task.

The loss and the training step are written in train.py (specialised to the spec's head by cnnc);
predictions are the raw outputs, which the task's evaluation reads (common.py).
"""

from __future__ import annotations

import torch

from .common import Evaluation, LandmarkHead
from .common import Reader as Reader  # train.py reads the data through the task's framework file


class Landmarks(Evaluation):
    """The task for the shared Trainer: `step` comes from train.py."""

    def __init__(self, head: LandmarkHead, cfg, step):
        super().__init__(head, cfg)
        self._step = step

    def step(self, net, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._step(net, x, y)

    def running(self, out: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        return []

    def predictions(self, out) -> torch.Tensor:
        return out.float()
