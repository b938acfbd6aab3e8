"""Detection with Keras: the YOLO loss's array functions (yolo.py writes the loss once for every framework)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from . import yolo


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


OPS = TensorFlowOps()


def loss_terms(out, boxes, anchors: np.ndarray, classes: int) -> dict:
    """yolo.loss_terms of a Keras output (N x S_h x S_w x A(5 + C), channels-last already)."""
    raw = tf.cast(out, tf.float32)
    return yolo.loss_terms(raw, tf.cast(boxes, tf.float32), anchors, classes, OPS)
