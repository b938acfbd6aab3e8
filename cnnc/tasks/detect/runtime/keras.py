"""Detection with Keras: the YOLO loss's array functions (yolo.py writes the loss once for every framework),
the loss terms as one metric, and what the shared Trainer asks of the task."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from . import yolo
from .common import DetectHead, Evaluation
from .common import Reader as Reader  # train.py reads the data through the task's framework file
from .common import find_anchors as find_anchors
from .common import predict_folder as predict_folder


class TensorFlowOps:
    """yolo.NumpyOps' functions on TensorFlow tensors (float32)."""

    def tensor(self, value, like=None):
        return tf.constant(np.asarray(value), dtype=like.dtype if like is not None else tf.float32)

    sigmoid = staticmethod(tf.sigmoid)
    softplus = staticmethod(tf.math.softplus)
    floor = staticmethod(tf.floor)
    log = staticmethod(tf.math.log)
    minimum = staticmethod(tf.minimum)

    def log_softmax(self, x):
        return tf.nn.log_softmax(x, axis=-1)

    def one_hot(self, index, depth: int, like=None):
        return tf.one_hot(tf.cast(index, tf.int32), depth, dtype=like.dtype if like is not None else tf.float32)

    def argmax(self, x):
        return tf.argmax(x, axis=-1)

    def clip(self, x, low: float, high: float):
        return tf.clip_by_value(x, low, high)

    def cumsum(self, x, axis: int):
        return tf.cumsum(x, axis=axis)

    def equal(self, x, value: float):
        return tf.cast(tf.equal(x, value), x.dtype)

    def stack(self, xs):
        return tf.stack(xs, axis=-1)

    def reshape(self, x, shape):
        return tf.reshape(x, shape)

    def einsum(self, formula: str, *xs):
        return tf.einsum(formula, *xs)

    def total(self, x):
        return tf.reduce_sum(x)

    def per_image(self, x):
        return tf.reduce_sum(tf.reshape(x, (tf.shape(x)[0], -1)), axis=1)


OPS = TensorFlowOps()


def loss_terms(out, boxes, anchors: np.ndarray, classes: int, per_image: bool = False) -> dict:
    """yolo.loss_terms of a Keras output (N x S_h x S_w x A(5 + C), channels-last already)."""
    raw = tf.cast(out, tf.float32)
    return yolo.loss_terms(raw, tf.cast(boxes, tf.float32), anchors, classes, OPS, per_image=per_image)


class LossTerms(keras.metrics.Metric):
    """The four loss terms as running means over images, logged by fit as box, obj, noobj, cls."""

    def __init__(self, anchors: np.ndarray, classes: int, name: str = "terms", **kwargs):
        super().__init__(name=name, **kwargs)
        self.anchors, self.classes = np.asarray(anchors), classes
        self.sums = [self.add_variable(shape=(), initializer="zeros", name=term) for term in yolo.TERMS]
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        terms = loss_terms(y_pred, y_true, self.anchors, self.classes, per_image=True)
        for total, term in zip(self.sums, yolo.TERMS, strict=True):
            total.assign_add(tf.reduce_sum(terms[term]))
        self.count.assign_add(tf.cast(tf.shape(y_pred)[0], self.count.dtype))

    def result(self):
        return {term: total / tf.maximum(self.count, 1.0) for term, total in zip(yolo.TERMS, self.sums, strict=True)}

    def reset_state(self):
        for variable in [*self.sums, self.count]:
            variable.assign(0.0)


class Detect(Evaluation):
    """The task for the shared Trainer: `compile_model` comes from train.py (the weighted loss Keras minimises)."""

    def __init__(self, head: DetectHead, cfg, anchors: np.ndarray, names: list[str], size, compile_model, log=print):
        super().__init__(head, cfg, anchors, names, size, log)
        self._compile = compile_model

    def compile(self, model: keras.Model, optimizer) -> None:
        self._compile(model, optimizer, self.anchors, self.cfg)

    def fit_targets(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.float32, copy=False)

    def predictions(self, out) -> np.ndarray:
        return np.asarray(out, dtype=np.float64)
