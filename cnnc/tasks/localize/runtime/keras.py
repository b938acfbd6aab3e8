"""Localization with Keras: what the shared Trainer asks of the task.

The losses and the compile call (Keras' compiled train step is the task's step) are written in train.py,
specialised to the spec's head by cnnc; predictions are the raw outputs, which the task's evaluation
reads (common.py).
"""

from __future__ import annotations

import keras
import numpy as np

from .common import Evaluation, LocalizeHead
from .common import Reader as Reader  # train.py reads the data through the task's framework file


class Localize(Evaluation):
    """The task for the shared Trainer: `compile_model` and `loss` come from train.py."""

    def __init__(self, head: LocalizeHead, cfg, compile_model, loss):
        super().__init__(head, cfg)
        self._compile, self.loss = compile_model, loss

    def compile(self, model: keras.Model, optimizer) -> None:
        self._compile(model, optimizer, self.cfg)

    def fit_targets(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.float32, copy=False)

    def predictions(self, out) -> np.ndarray:
        return np.asarray(out, dtype=np.float64)
