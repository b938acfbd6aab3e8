"""Style transfer with Keras: the network's activations at named layers (a Keras model from the spec's
input to those layers' outputs: nothing after the deepest one is computed), the costs on them, and one
Adam step or J with its gradient for L-BFGS.

Activations are N x H x W x C here; the Gram matrix is A^T A of the (H W) x C matrix A, the same
G_kk' = sum_ij a_ijk a_ijk' as common.gram's (tested).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ...runtime.config import ConfigError
from .common import PREPROCESS
from .common import StyleHead as StyleHead  # train.py imports the head record from the task's runtime


class Features:
    """The activations of `layers` (spec name -> Keras layer name) for an image batch, as a dict by spec name."""

    def __init__(self, model: keras.Model, layers: dict[str, str], names: list[str]):
        self.names = list(dict.fromkeys(names))
        own = {layer.name for layer in model.layers}
        missing = [n for n in self.names if layers[n] not in own]
        if missing:
            raise ConfigError(f"the Keras model has no layer {layers[missing[0]]} (`{missing[0]}`)")
        outputs = [model.get_layer(layers[n]).output for n in self.names]
        self.model = keras.Model(model.inputs[0] if len(model.inputs) == 1 else model.inputs, outputs)

    def __call__(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        found = self.model(x, training=False)
        found = found if isinstance(found, (list, tuple)) else [found]
        return dict(zip(self.names, found, strict=True))


def preprocess(image: tf.Tensor, how: str) -> tf.Tensor:
    """H x W x C pixels in [0,1] -> the 1 x H x W x C input the weights expect (--preprocess)."""
    mean, std, scale, bgr = PREPROCESS[how]
    x = tf.expand_dims(image, 0) * scale
    if x.shape[-1] == 3:
        x = x[..., ::-1] if bgr else x
        x = (x - tf.constant(mean, tf.float32)) / tf.constant(std, tf.float32)
    return x


def gram(a: tf.Tensor) -> tf.Tensor:
    """G_kk' = sum_ij a_ijk a_ijk' of a 1 x H x W x C activation: C x C."""
    flat = tf.reshape(a, (-1, a.shape[-1]))
    return tf.matmul(flat, flat, transpose_a=True)


def content_cost(a_c: tf.Tensor, a_g: tf.Tensor) -> tf.Tensor:
    """1 / (4 n_H n_W n_C) * sum (a(C) - a(G))^2."""
    return tf.reduce_sum(tf.square(a_c - a_g)) / (4.0 * float(np.prod(a_c.shape)))


def layer_style_cost(g_s: tf.Tensor, a_g: tf.Tensor) -> tf.Tensor:
    """1 / (4 n_C^2 (n_H n_W)^2) * sum (G(S) - G(G))^2, from the style image's Gram matrix and a(G)."""
    n_c = a_g.shape[-1]
    n_hw = int(np.prod(a_g.shape[1:-1]))
    return tf.reduce_sum(tf.square(g_s - gram(a_g))) / (4.0 * n_c**2 * float(n_hw) ** 2)


class Objective:
    """J(G) = alpha J_content(C, G) + beta J_style(S, G) for the fixed C and S, on the network's features."""

    def __init__(self, features: Features, content: np.ndarray, style: np.ndarray, layers, cfg, device=None):
        self.features, self.cfg = features, cfg
        self.content_layer, self.style_layers, self.weights = layers
        self.a_c = features(self._input(content))[self.content_layer]
        found = features(self._input(style))
        self.g_s = [gram(found[name]) for name in self.style_layers]
        self.adam = None

    def _input(self, image) -> tf.Tensor:
        return preprocess(tf.convert_to_tensor(image, tf.float32), self.cfg.preprocess)

    def parts(self, image) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(J_content, J_style, J) of G, differentiable."""
        found = self.features(self._input(image))
        j_content = content_cost(self.a_c, found[self.content_layer])
        j_style = tf.add_n(
            [
                w * layer_style_cost(g, found[name])
                for w, g, name in zip(self.weights, self.g_s, self.style_layers, strict=True)
            ]
        )
        return j_content, j_style, self.cfg.alpha * j_content + self.cfg.beta * j_style

    @tf.function(reduce_retracing=True)
    def _value_and_grad(self, image: tf.Variable):
        with tf.GradientTape() as tape:
            parts = self.parts(image)
        return parts, tape.gradient(parts[2], image)

    def costs(self, image: np.ndarray) -> tuple[float, float, float]:
        return tuple(float(p) for p in self.parts(image))

    def value_and_grad(self, image: np.ndarray) -> tuple[tuple[float, float, float], np.ndarray]:
        if self.adam is None and not hasattr(self, "g"):
            self.g = tf.Variable(image, dtype=tf.float32)
        self.g.assign(image)
        parts, grad = self._value_and_grad(self.g)
        return tuple(float(p) for p in parts), grad.numpy()

    def adam_step(self, image: np.ndarray) -> tuple[tuple[float, float, float], np.ndarray]:
        """One Adam step on the pixels (clipped to [0,1] after it); the costs are G's before the step."""
        if self.adam is None:
            self.g = tf.Variable(image, dtype=tf.float32)
            self.adam = keras.optimizers.Adam(learning_rate=self.cfg.lr)
        parts, grad = self._value_and_grad(self.g)
        self.adam.apply_gradients([(grad, self.g)])
        self.g.assign(tf.clip_by_value(self.g, 0.0, 1.0))
        return tuple(float(p) for p in parts), self.g.numpy()


def feature_network(build_model, layers: dict[str, str], names: list[str], cfg, env) -> Features:
    """The spec's model with its --weights (random if none: said), read at `names`."""
    from ...runtime import keras_lib as rt

    model = build_model()
    if cfg.weights and cfg.weights.endswith((".h5", ".hdf5")) and not cfg.weights.endswith(".weights.h5"):
        # keras.applications' own file (vgg19_weights_tf_dim_ordering_tf_kernels[_notop].h5): by layer name, so
        # the convolutions load at any input size; a layer that does not fit (fc1 at 128x128, or absent) is skipped
        before = [v.numpy().copy() for v in model.weights]
        model.load_weights(cfg.weights, by_name=True, skip_mismatch=True)
        loaded = sorted(
            {
                v.path.split("/")[0]
                for v, old in zip(model.weights, before, strict=True)
                if not np.array_equal(v.numpy(), old)
            }
        )
        if not loaded:
            raise ConfigError(f"{cfg.weights}: no layer of the model by name in it (Keras' layer names)")
        env.log(f"weights: {len(loaded)} layers by name from {cfg.weights}: {', '.join(loaded)}")
    elif cfg.weights:
        rt.load_matching(model, cfg.weights, env)
    model.trainable = False
    return Features(model, layers, names)


def setup(cfg):
    """Threads and the seed of the random weights; no strategy (one image)."""
    from ...runtime import keras_lib as rt

    if cfg.threads:
        tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
    keras.utils.set_random_seed(cfg.seed)
    return rt.Env(tf.distribute.get_strategy(), seed=cfg.seed)
