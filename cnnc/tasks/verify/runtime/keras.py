"""Verification with Keras: the array operations the shared losses are written in (losses.py), the pair
head of the binary formulation as a layer, L2 normalisation, the spec's network as an encoding f(x) whose
loss is the task's (`Verifier`), and what the shared Trainer asks of the task (`Verify`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
from keras import ops

from . import losses
from .common import Evaluation, VerifyHead
from .common import Reader as Reader  # train.py reads the data through the task's framework file
from .common import save_normalizer as save_normalizer
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


def per_replica(loss):
    """A loss as each tf.distribute replica contributes it (Keras sums the replicas' gradients and divides
    its own compiled losses the same way; a loss computed in `compute_loss` must do it itself)."""
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / replicas if replicas > 1 else loss


class Verifier(keras.Model):
    """The spec's network as the encoding f(x): one input, or a siamese network's two inputs with shared
    weights (the batch's first half through one, the rest through the other).  Its loss is the task's:
    `loss_fn(model, embeddings, identities)` from train.py, called in Keras' compiled train step."""

    def __init__(self, net: keras.Model, head: VerifyHead, cfg, loss_fn, **kwargs):
        super().__init__(**kwargs)
        self.net, self.siamese, self.normalize, self.loss_fn = net, head.siamese, cfg.normalize_embedding, loss_fn
        self.cfg = cfg
        self.pair = PairHead(cfg.pair_features, name="pair_head") if cfg.formulation == "pair" else None
        self.dim = head.dim
        self.build(None)

    def build(self, input_shape) -> None:
        if self.pair is not None and not self.pair.built:
            self.pair.build((None, self.dim))
        self.built = True

    def call(self, x, training=False):
        if self.siamese:
            half = (ops.shape(x)[0] + 1) // 2
            emb = ops.concatenate(self.net([x[:half], x[half:]], training=training), axis=0)
        else:
            emb = self.net(x, training=training)
        return l2_normalize(emb) if self.normalize else ops.cast(emb, "float32")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = self.loss_fn(self, y_pred, ops.reshape(y, (-1,)), self.cfg)
        return per_replica(loss + ops.sum(self.losses) if self.losses else loss)


class Verify(Evaluation):
    """The task for the shared Trainer: Keras' compiled train step minimises the Verifier's loss."""

    def __init__(self, head: VerifyHead, cfg, model: Verifier):
        super().__init__(head, cfg)
        self.model = model

    def compile(self, model: keras.Model, optimizer) -> None:
        model.compile(optimizer=optimizer)

    def fit_targets(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.int32, copy=False)

    def predictions(self, out) -> np.ndarray:
        return np.asarray(out, dtype=np.float64)

    def pair_parameters(self):
        if self.model.pair is None:
            return None
        return np.asarray(self.model.pair.w.numpy(), np.float64), float(self.model.pair.b.numpy())


class Encoder:
    """The trained encoding for verify.py and recognize.py: train.py's CONFIG and HEAD, the best weights."""

    def __init__(self, build_model, inputs: dict, head: VerifyHead, config: dict, weights: str | None = None):
        cfg = SimpleNamespace(**config)
        self.shape = tuple(inputs[head.inputs[0]])
        self.weights = weights or str(Path(cfg.out) / "best.weights.h5")
        if not Path(self.weights).is_file():
            from ...runtime.config import ConfigError

            raise ConfigError(f"no weights file {self.weights}: train first, or give --weights")
        self.model = Verifier(build_model(), head, cfg, loss_fn=None)
        self.model.load_weights(self.weights)
        self.task = Verify(head, cfg, self.model)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Encodings of channels-last images (scaled as in training)."""
        return np.asarray(self.model(x, training=False), dtype=np.float64)

    def measure(self):
        return self.task.measure()
