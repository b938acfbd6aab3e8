"""Unit visualisation with Keras: a layer's activations for a batch of images (a model from the input to
that layer), as N x H x W x C numpy."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ...runtime.config import ConfigError
from .common import VisualizeHead as VisualizeHead  # visualize.py imports the head record from here


def feature_network(build_model, layers: dict[str, str], layer: str, cfg, env) -> keras.Model:
    """The model from the input to the layer, with --weights (random if none: said)."""
    from ...runtime import keras_lib as rt

    model = build_model()
    if cfg.weights:
        rt.load_matching(model, cfg.weights, env)
    if layers[layer] not in {one.name for one in model.layers}:
        raise ConfigError(f"the Keras model has no layer {layers[layer]} (`{layer}`)")
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, model.get_layer(layers[layer]).output)


def activations(net: keras.Model, images: np.ndarray, batch_size: int, env) -> np.ndarray:
    return np.concatenate(
        [np.asarray(net(images[lo : lo + batch_size], training=False)) for lo in range(0, len(images), batch_size)]
    )


def setup(cfg):
    from ...runtime import keras_lib as rt

    if cfg.threads:
        tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
    keras.utils.set_random_seed(cfg.seed)
    return rt.Env(tf.distribute.get_strategy(), seed=cfg.seed)
