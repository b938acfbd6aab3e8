"""Verification with Keras: the array operations the shared losses are written in (losses.py), the pair
head of the binary formulation as a layer, L2 normalisation, and the losses as Keras losses."""

from __future__ import annotations

import keras
from keras import ops

from . import losses
from .mining import PAIR_FEATURES


class KerasOps:
    """losses.py's `xp` for Keras tensors (any backend, symbolic batch size)."""

    where = staticmethod(ops.where)
    sqrt = staticmethod(ops.sqrt)
    abs = staticmethod(ops.abs)
    exp = staticmethod(ops.exp)
    log1p = staticmethod(ops.log1p)
    relu = staticmethod(ops.relu)
    sum = staticmethod(ops.sum)
    max = staticmethod(ops.max)
    min = staticmethod(ops.min)
    any = staticmethod(ops.any)
    maximum = staticmethod(ops.maximum)

    @staticmethod
    def rows(x):
        """0..N-1 for the rows of x (N may be known only when the graph runs)."""
        return ops.arange(ops.shape(x)[0])

    @staticmethod
    def float(x):
        return ops.cast(x, "float32")


OPS = KerasOps()


def l2_normalize(emb):
    """Unit-length embeddings (FaceNet), the norm floored at 1e-12 as mining.l2_normalize."""
    emb = ops.cast(emb, "float32")
    return emb / ops.maximum(ops.sqrt(ops.sum(emb * emb, axis=1, keepdims=True)), 1e-12)


def triplet_loss(
    emb, labels, alpha: float = 0.2, mining: str = "batch-hard", squared: bool = True, reduction: str = "mean"
):
    """max(d(A, P) - d(A, N) + alpha, 0) over the mined triplets of a P x K batch (losses.py)."""
    return losses.triplet_loss(OPS, emb, ops.reshape(labels, (-1,)), alpha, mining, squared, reduction)


class PairHead(keras.layers.Layer):
    """DeepFace's verification head: p(same) = sigmoid(sum_k w_k feature_k(f_i, f_j) + b), the features
    |f_i - f_j| or the chi-square terms; w starts at -1, b at 1 (as the torch head).  Its output is the
    batch's N x N pair logits, so a compiled Keras model can end with it."""

    def __init__(self, kind: str = "abs", **kwargs):
        super().__init__(**kwargs)
        if kind not in PAIR_FEATURES:
            raise ValueError(f"pair features are one of {', '.join(PAIR_FEATURES)}, not {kind!r}")
        self.kind = kind

    def build(self, input_shape) -> None:
        self.w = self.add_weight(shape=(input_shape[-1],), initializer=keras.initializers.Constant(-1.0), name="w")
        self.b = self.add_weight(shape=(), initializer=keras.initializers.Constant(1.0), name="b")

    def call(self, emb):
        return losses.pair_logit_matrix(OPS, emb, self.w, self.b, self.kind)

    def get_config(self) -> dict:
        return {**super().get_config(), "kind": self.kind}


def pair_loss(labels, logits):
    """Balanced binary cross-entropy of the pair logits (a Keras loss: y_true the identities)."""
    return losses.pair_loss_from_logits(OPS, logits, ops.reshape(labels, (-1,)))
