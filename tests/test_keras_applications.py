"""keras.applications' weights load into the generated Keras models by layer name, and give the same outputs.

For every keras.applications-flavoured library spec: the reference is built with `weights=None`
(random initialisation, no download), every reference layer that has weights must have a generated
layer of the same name and weight shapes, its weights are copied by name, and both models must
agree on a random input (max abs difference below 1e-5).  Inputs are reduced where the reference
allows it (`input_shape`), to keep the quick runs quick.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from differential import ROOT

from cnnc.backends import keras as keras_backend
from cnnc.compiler import analyze

# (keras.applications model, spec, input size, slow)
CASES = [
    ("ResNet50", "keras_resnet50.cnn", 64, False),
    ("ResNet101", "keras_resnet101.cnn", 64, True),
    ("ResNet152", "keras_resnet152.cnn", 64, True),
    ("ResNet50V2", "keras_resnet50v2.cnn", 64, False),
    ("ResNet101V2", "keras_resnet101v2.cnn", 64, True),
    ("ResNet152V2", "keras_resnet152v2.cnn", 64, True),
    ("VGG16", "keras_vgg16.cnn", 32, False),
    ("VGG19", "keras_vgg19.cnn", 32, True),
    ("DenseNet121", "keras_densenet121.cnn", 64, False),
    ("DenseNet169", "keras_densenet169.cnn", 64, True),
    ("DenseNet201", "keras_densenet201.cnn", 64, True),
    ("MobileNet", "mobilenet.cnn", 64, False),
    ("MobileNetV2", "mobilenet_v2.cnn", 64, False),
    ("Xception", "xception.cnn", 71, True),
    ("InceptionV3", "inception_v3.cnn", 75, True),
    ("InceptionResNetV2", "inception_resnet_v2.cnn", 75, True),
    ("NASNetMobile", "nasnet_mobile.cnn", 64, True),
    ("NASNetLarge", "nasnet_large.cnn", 64, True),
]


def _params():
    return [
        pytest.param(app, spec, size, id=app, marks=[pytest.mark.slow] if slow else [])
        for app, spec, size, slow in CASES
    ]


def load_by_name(reference: keras.Model, ours: keras.Model) -> int:
    """Copy every weighted reference layer into the generated layer of its name; the number of layers copied."""
    layers = {layer.name: layer for layer in ours.layers}
    copied = 0
    for layer in reference.layers:
        if not layer.weights:
            continue
        assert layer.name in layers, f"no generated layer named {layer.name!r}"
        target = layers[layer.name]
        assert [tuple(w.shape) for w in target.weights] == [tuple(w.shape) for w in layer.weights], layer.name
        target.set_weights(layer.get_weights())
        copied += 1
    return copied


@pytest.mark.parametrize("application, spec, size", _params())
def test_reference_weights_load_by_name_and_outputs_agree(application, spec, size):
    _load_and_compare(application, spec, size, {})


# Width multipliers change every layer's width (MobileNetV2 rounds them with make_divisible).
VARIANTS = [
    ("MobileNet", "mobilenet.cnn", {"alpha": 0.5, "depth_multiplier": 2}),
    ("MobileNetV2", "mobilenet_v2.cnn", {"alpha": 0.35}),
    ("MobileNetV2", "mobilenet_v2.cnn", {"alpha": 1.4}),
]


@pytest.mark.parametrize("application, spec, sets", VARIANTS, ids=lambda v: str(v) if isinstance(v, dict) else v)
def test_width_variants_load_by_name(application, spec, sets):
    _load_and_compare(application, spec, 64, sets)


def _load_and_compare(application: str, spec: str, size: int, sets: dict) -> None:
    keras.backend.clear_session()  # auto-named reference layers count from a fresh session
    reference = getattr(keras.applications, application)(weights=None, input_shape=(size, size, 3), **sets)
    analysis = analyze(ROOT / "specs" / spec, overrides=sets, input_shapes={None: (size, size, 3)})
    assert analysis.ok, analysis.diagnostics
    ours = keras_backend.build(analysis.graph)
    assert ours.count_params() == reference.count_params()
    weighted = [layer for layer in ours.layers if layer.weights]
    assert load_by_name(reference, ours) == len(weighted)  # and no generated layer is left out
    x = np.random.default_rng(0).standard_normal((2, size, size, 3)).astype("float32")
    expected = reference.predict_on_batch(x)
    assert np.abs(ours.predict_on_batch(x) - expected).max() < 1e-5

@pytest.mark.slow
def test_inception_v3_modules_carry_keras_names_and_values():
    """Feature extraction and DeepDream read InceptionV3's modules by name (`mixed7`): the same
    names give the same values once the weights are loaded."""
    keras.backend.clear_session()
    reference = keras.applications.InceptionV3(weights=None, input_shape=(75, 75, 3))
    analysis = analyze(ROOT / "specs" / "inception_v3.cnn", input_shapes={None: (75, 75, 3)})
    ours = keras_backend.build(analysis.graph)
    load_by_name(reference, ours)
    names = [f"mixed{i}" for i in range(11)] + ["mixed9_0", "concatenate", "mixed9_1", "concatenate_1"]
    taps = [keras.Model(m.inputs, [m.get_layer(n).output for n in names]) for m in (reference, ours)]
    x = np.random.default_rng(1).standard_normal((2, 75, 75, 3)).astype("float32")
    expected, got = (tap.predict_on_batch(x) for tap in taps)
    for name, e, g in zip(names, expected, got):
        assert e.shape == g.shape and np.abs(e - g).max() < 1e-4, name


@pytest.mark.slow
def test_inception_resnet_v2_residual_sums_carry_keras_names_and_values():
    """Keras' CustomScaleLayer (x + scale * up, no weights) is our scale and add: the add carries its
    automatic name (custom_scale_layer ... custom_scale_layer_39), so the residual sums tap by name."""
    keras.backend.clear_session()
    reference = keras.applications.InceptionResNetV2(weights=None, input_shape=(75, 75, 3))
    analysis = analyze(ROOT / "specs" / "inception_resnet_v2.cnn", input_shapes={None: (75, 75, 3)})
    ours = keras_backend.build(analysis.graph)
    load_by_name(reference, ours)
    names = ["custom_scale_layer", "block35_10_ac", "mixed_6a", "custom_scale_layer_29", "mixed_7a",
             "custom_scale_layer_39", "conv_7b_ac"]
    taps = [keras.Model(m.inputs, [m.get_layer(n).output for n in names]) for m in (reference, ours)]
    x = np.random.default_rng(1).standard_normal((2, 75, 75, 3)).astype("float32")
    expected, got = (tap.predict_on_batch(x) for tap in taps)
    for name, e, g in zip(names, expected, got):
        assert e.shape == g.shape and np.abs(e - g).max() < 1e-4, name
