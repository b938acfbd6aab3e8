"""The Keras backend writes an anonymous block call (`-> unit(4, 1) as _`) as a call of a helper function,
as keras.applications' `conv2d_bn`, with the layer names the spec gives (cnnc/backends/keras/functions.py)."""

from __future__ import annotations

import re

import keras
import numpy as np

from cnnc.backends import keras as keras_backend
from cnnc.compiler import analyze

SPEC = """\
block unit(filters: int, n: int) {
  return in -> conv(filters, 3, padding=same) as conv_{n} -> relu as relu_{n}
}

block stage(first: int) {
  return in -> unit(4, first) as _ -> unit(8, first + 1) as _
}

network Anon() {
  input x: 8x8x3
  h = x -> unit(4, 1) as _ -> unit(8, 2) as _ -> unit(8, 3) as _
  h -> stage(4) as s -> output y
}
"""

# The same layers written out, without blocks: what the anonymous calls stood for.
FLAT = """\
network Anon() {
  input x: 8x8x3
  h = x -> conv(4, 3, padding=same) as conv_1 -> relu as relu_1 -> conv(8, 3, padding=same) as conv_2
        -> relu as relu_2 -> conv(8, 3, padding=same) as conv_3 -> relu as relu_3
  h -> (conv(4, 3, padding=same) as conv_4 -> relu as relu_4 -> conv(8, 3, padding=same) as conv_5
        -> relu as relu_5) as s -> output y
}
"""

NAMES = ["conv_1", "relu_1", "conv_2", "relu_2", "conv_3", "relu_3", "s_conv_4", "s_relu_4", "s_conv_5", "s_relu_5"]


def _source(spec_file, text: str) -> str:
    analysis = analyze(spec_file(text))
    assert analysis.ok, [(d.code, d.message) for d in analysis.diagnostics]
    return keras_backend.model_source(analysis.graph)


def _layer_names(model) -> list[str]:
    return [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def test_anonymous_calls_are_one_helper_called_for_each_with_the_names_the_spec_gives(spec_file):
    source = _source(spec_file, SPEC)
    assert re.findall(r"^def .*:$", source, re.MULTILINE) == [
        "def unit(x, filters, n):",  # in the network's body: the names are the number's
        "def unit_2(x, filters, n, name):",  # in `stage`'s: the names start with its `name`
        "def stage(x, name):",
        "def build_anon() -> keras.Model:",
    ]
    assert '    x = layers.Conv2D(filters, 3, padding="same", name=f"conv_{n}")(x)  # 8x8x4, line 2' in source
    assert '    x = layers.ReLU(name=name + f"_relu_{n}")(x)  # 8x8x4, line 2' in source
    assert re.findall(r"= unit\(.*\)", source) == [
        "= unit(x, filters=4, n=1)",
        "= unit(h, filters=8, n=2)",
        "= unit(h, filters=8, n=3)",
    ]
    assert re.findall(r"= unit_2\(.*\)", source) == [
        "= unit_2(x, filters=4, n=4, name=name)",
        "= unit_2(x, filters=8, n=5, name=name)",
    ]
    model = keras_backend.load_module(source).build_model()
    assert _layer_names(model) == NAMES


def test_the_helpers_build_the_same_layers_and_outputs_as_the_layers_written_out(spec_file):
    model = keras_backend.load_module(_source(spec_file, SPEC)).build_model()
    flat = keras_backend.load_module(_source(spec_file, FLAT)).build_model()
    assert _layer_names(model) == _layer_names(flat) == NAMES
    for layer in flat.layers:
        layer.set_weights([np.random.default_rng(0).normal(size=w.shape) for w in layer.get_weights()])
        model.get_layer(layer.name).set_weights(layer.get_weights())
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), flat.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_an_anonymous_call_whose_text_is_its_own_stays_inline(spec_file):
    text = SPEC.replace("h = x -> unit(4, 1) as _ -> unit(8, 2) as _ -> unit(8, 3) as _", "h = x -> unit(4, 1) as _")
    source = _source(spec_file, text.replace("h -> stage(4) as s", "h"))
    assert "def unit" not in source  # one call: a function would serve no other
    assert '    h = layers.Conv2D(4, 3, padding="same", name="conv_1")(x)  # 8x8x4, line 2' in source
