"""Landmarks with Keras: what the shared Trainer asks of the task.

The loss and the compile call (Keras' compiled train step is the task's step) are written in train.py,
specialised to the spec's head by cnnc; predictions are the raw outputs, which the task's evaluation
reads (common.py).
"""

from __future__ import annotations

import keras
import numpy as np

from .common import Evaluation, LandmarkHead
from .common import Reader as Reader  # train.py reads the data through the task's framework file


class Landmarks(Evaluation):
    """The task for the shared Trainer: `compile_model` comes from train.py."""

    def __init__(self, head: LandmarkHead, cfg, compile_model):
        super().__init__(head, cfg)
        self._compile = compile_model

    def compile(self, model: keras.Model, optimizer) -> None:
        self._compile(model, optimizer)

    def fit_targets(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.float32, copy=False)

    def predictions(self, out) -> np.ndarray:
        return np.asarray(out, dtype=np.float64)
