"""The Keras backend writes one function for a block whose calls differ only by an `if` without `else`,
with a keyword flag (`downsample=False`), as keras.applications' `block1(..., conv_shortcut=True)`
(cnnc/backends/keras/functions.py; the decision is cnnc/backends/common.py's `optional_branches`)."""

from __future__ import annotations

import re

import keras
import numpy as np
from differential import ROOT

from cnnc.backends import keras as keras_backend
from cnnc.backends.keras import functions
from cnnc.compiler import analyze

SPEC = """block unit(filters: int) {
  main = in -> conv(filters, 3, padding=same, bias=false) as conv1 -> batchnorm as bn1
  short = in
  if in.c != filters {
    short = in -> (conv(filters, 1, bias=false) -> batchnorm) as proj
  }
  return add(short, main) -> relu
}

network Optional() {
  input x: 8x8x4
  a = x -> unit(8) as first
  b = a -> unit(8) as second
  c = b -> unit(8) as third
  add(c, b) -> output y
}
"""


def _functions(source: str) -> list[str]:
    return re.findall(r"^def .*:$", source, re.MULTILINE)


def _build(source: str, module: str) -> keras.Model:
    namespace: dict = {"__name__": module}
    exec(compile(source, module, "exec"), namespace)
    return namespace["build_model"]()


def test_resnet50_has_one_function_for_the_bottlenecks_with_and_without_downsample():
    source = keras_backend.model_source(analyze(ROOT / "specs" / "resnet50.cnn").graph)
    assert _functions(source) == [
        "def residual_bottleneck(x, filters, name, downsample=False):",
        "def bottleneck_stage(x, filters, blocks, name):",
        # a stride of 2 pads before its convolution (`same` is TensorFlow's): a text of its own
        "def residual_bottleneck_2(x, filters, stride, name):",
        "def bottleneck_stage_2(x, filters, blocks, stride, name):",
        "def build_res_net50(num_classes: int = 1000) -> keras.Model:",
    ]
    assert "    short = x\n    if downsample:\n" in source
    assert 'h = residual_bottleneck(x, filters=filters, downsample=True, name=name + "_0")' in source
    assert 'h = residual_bottleneck(h, filters=filters, name=name + "_" + str(i))' in source


def test_calls_with_and_without_the_part_share_a_function_with_the_same_layers_and_outputs(spec_file, monkeypatch):
    analysis = analyze(spec_file(SPEC))
    assert analysis.ok, [(d.code, d.message) for d in analysis.diagnostics]
    source = keras_backend.model_source(analysis.graph)
    assert _functions(source) == [
        "def unit(x, filters, name, proj=False):",
        "def build_optional() -> keras.Model:",
    ]
    assert "    short = x\n    if proj:\n" in source
    assert 'a = unit(x, filters=8, proj=True, name="first")' in source
    assert 'b = unit(a, filters=8, name="second")' in source
    monkeypatch.setattr(functions, "optional_branches", lambda structure, classes_of: {})
    before = keras_backend.model_source(analysis.graph)  # each call's own function, as before the merge
    assert _functions(before) == [
        "def unit(x, filters, name):",
        "def unit_2(x, filters, name):",
        "def build_optional() -> keras.Model:",
    ]
    ours, theirs = _build(source, "merged"), _build(before, "separate")
    names = [layer.name for layer in ours.layers]
    assert names == [layer.name for layer in theirs.layers]
    assert "first_proj_0" in names and "second_proj_0" not in names
    layers = {layer.name: layer for layer in ours.layers}
    for layer in theirs.layers:
        if layer.weights:
            layers[layer.name].set_weights([np.random.default_rng(1).normal(size=w.shape) for w in layer.weights])
            layer.set_weights(layers[layer.name].get_weights())
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 4)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
