"""Classification with Keras: what the shared Trainer asks of the task, and transfer on cached features.

The loss and the compile call (Keras' compiled train step is the task's step) are written in train.py,
specialised to the spec's head by cnnc; this file shapes the labels for that loss, turns the head's
output into class probabilities, and gives the accuracy metric.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import keras
import numpy as np

from ...runtime import loop
from ...runtime.config import ConfigError
from ...runtime.keras_lib import digest, make_optimizer
from .common import Evaluation, Head
from .common import Reader as Reader  # train.py reads the data through the task's framework file


def accuracy(head: Head) -> keras.metrics.Metric:
    """The running accuracy fit logs as `acc` (a binary head: past 0.5, or past 0 for a logit)."""
    if head.binary:
        return keras.metrics.BinaryAccuracy(name="acc", threshold=0.0 if head.activation == "logits" else 0.5)
    return keras.metrics.SparseCategoricalAccuracy(name="acc")


def probabilities(head: Head, out: np.ndarray) -> np.ndarray:
    """Class probabilities, N x K (a binary head gives [1 - p, p])."""
    out = np.asarray(out, dtype=np.float64)
    if head.activation == "logits":
        if head.binary:
            out = 1 / (1 + np.exp(-out))
        else:
            out = np.exp(out - out.max(axis=1, keepdims=True))
            out /= out.sum(axis=1, keepdims=True)
    if head.binary:
        return np.concatenate([1 - out, out], axis=1)
    if head.activation == "sigmoid":
        return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-7)
    return out


class Classify(Evaluation):
    """The task for the shared Trainer: `compile_model` and `loss` come from train.py."""

    running_names = ("acc",)

    def __init__(self, head: Head, cfg, compile_model, loss, classes: int):
        super().__init__(head, cfg)
        self._compile, self.loss = compile_model, loss
        self.prediction_shape = (max(classes, 2),)

    def compile(self, model: keras.Model, optimizer) -> None:
        self._compile(model, optimizer, self.cfg)

    def fit_targets(self, y: np.ndarray):
        """Labels as the compiled loss wants them: a column of floats for one unit, one copy per output."""
        y = y[:, None].astype(np.float32) if self.head.binary else y
        return tuple([y] * len(self.head.outputs)) if len(self.head.outputs) > 1 else y

    def predictions(self, out) -> np.ndarray:
        if isinstance(out, (list, tuple)):
            out = out[self.head.outputs.index(self.head.output)]
        return probabilities(self.head, out)


# ---------------------------------------------------------------- transfer learning: cached features


def cached_features(trainer, base: keras.Model, split, name: str) -> np.ndarray:
    """The base's features of a split from <out>/features, computed once per (weights, data, seed)."""
    cfg = trainer.cfg
    key = hashlib.sha256(f"{digest(trainer.model)}|{cfg.data}|{cfg.split}|{cfg.seed}|{cfg.normalize}".encode())
    path = Path(cfg.out) / "features" / f"{name}-{key.hexdigest()[:12]}.npy"
    if path.exists():
        return np.load(path)
    batches = trainer._batches(split, train=False)
    feats = base.predict(batches, verbose=0).reshape(len(split), -1) if len(split) else np.zeros((0, 0))
    batches.check()
    if trainer.is_main:
        with loop.atomic_path(path) as tmp:
            np.save(tmp, feats)
    return feats


def train_head_on_features(trainer, log=print) -> None:
    """Feature extraction: run the frozen base once, cache its features, train the head layer on them."""
    head, cfg, model = trainer.task.head, trainer.cfg, trainer.model
    if not head.dense_tail:
        raise ConfigError(
            "--feature-extract needs the spec to end in a dense layer followed only by activations or dropout"
        )
    layer = model.get_layer(head.layer)
    base = keras.Model(model.inputs, layer.input)
    feats = {s: cached_features(trainer, base, getattr(trainer.data, s), s) for s in ("train", "val")}
    labels = {s: getattr(trainer.data, s).targets for s in ("train", "val")}
    if head.binary:
        labels = {s: y[:, None].astype(np.float32) for s, y in labels.items()}
    with trainer.env.strategy.scope():
        clone = layer.__class__.from_config({**layer.get_config(), "name": "head"})
        inputs = keras.Input((feats["train"].shape[1],))
        outputs = clone(inputs)
        if head.activation != "logits":
            outputs = keras.layers.Activation(head.activation)(outputs)
        small = keras.Model(inputs, outputs)
        small.compile(make_optimizer(cfg, lr=cfg.head_lr or cfg.lr), trainer.task.loss, metrics=[accuracy(head)])
    history = small.fit(
        feats["train"],
        labels["train"],
        batch_size=cfg.batch_size,
        epochs=cfg.head_epochs,
        validation_data=(feats["val"], labels["val"]) if len(labels["val"]) else None,
        verbose=0,
    )
    logs = {k: v[-1] for k, v in history.history.items()}
    log(f"head {cfg.head_epochs} epochs on cached features: " + " ".join(f"{k} {v:.4f}" for k, v in logs.items()))
    layer.set_weights(clone.get_weights())
    if trainer.is_main:
        trainer.save_weights(trainer.files["best"])
