"""The Keras 3 backend: a checked graph -> a module that builds the network with the functional API.

`generate(analysis, options)` returns `{"model.py": source}`.  The module
defines `build_<snake_name>(**params) -> keras.Model` (and `build_model`, the
same function), `INPUTS` and `OUTPUTS` (channels-last shapes without the batch),
and imports only keras.  Layers are named `layer_name(node.id)`, as in the
PyTorch backend, so `cnnc.weights` maps weights between the two by name.
"""

from __future__ import annotations

import ast
import functools
import types
from pathlib import Path

from cnnc.backends.keras.body import Body
from cnnc.backends.keras.build import Builder
from cnnc.backends.keras.emit import EMITTERS, keras_refusals
from cnnc.backends.keras.functions import Functions
from cnnc.backends.naming import snake_case
from cnnc.backends.pysource import (
    CodeWriter,
    Expr,
    PythonCode,
    Seq,
    call,
    dict_of,
    file_label,
    flat,
    list_of,
    literal,
    quote,
)
from cnnc.diagnostics import CnncError
from cnnc.ir.graph import Graph

# Custom layers are pasted from runtime.py's text; reading it does not import keras.
RUNTIME = Path(__file__).with_name("runtime.py")
_TYPE_HINTS = {"int": "int", "float": "float", "bool": "bool", "str": "str"}


def generate(analysis, options=None) -> dict[str, str]:
    return {"model.py": model_source(analysis.graph)}


def load_module(source: str, name: str = "cnnc_keras_model") -> types.ModuleType:
    """Execute generated source as a fresh module (this imports keras)."""
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def build(graph: Graph, **params):
    """The Keras model of a checked graph, built from the generated source."""
    return load_module(model_source(graph)).build_model(**params)


def model_source(graph: Graph) -> str:
    """The source of the Keras model module for a checked graph."""
    return model_code(graph).src


def model_code(graph: Graph) -> PythonCode:
    """The Keras model module for a checked graph: the builder function and what it needs;
    `CnncError` (E0307) where a layer has no Keras form."""
    refused = keras_refusals(graph)
    if refused:
        raise CnncError(refused)
    b = Builder(graph)
    b.names.reserve("INPUTS", "OUTPUTS", "build_model", *_runtime_classes())
    function = b.names("function", "build_" + snake_case(graph.name))
    b.emit = lambda node: EMITTERS[node.op.name](b, node)
    functions = Functions(b)
    body = Body(None, None, functions.reserved() | set(b.params.values()))
    outputs = list(graph.outputs.values())
    body.preferred.update({node_id: name for name, node_id in graph.outputs.items()})
    # the model's inputs are read by its last line: their locals are never reused
    functions.write_body(body, list(graph.topological()), outputs, keep=list(graph.inputs.values()))
    inputs = [body.values[i] for i in graph.inputs.values()]
    model = call(
        "keras.Model",
        inputs=_one_or_list(inputs),
        outputs=_one_or_list([body.values[i] for i in outputs]),
        name=literal(graph.name),
    )
    body.out.statement("return ", model)

    w = CodeWriter()
    w.block(_docstring(graph, function, functions.kinds))
    w.line()
    w.line("import keras")
    w.line("from keras import layers, ops" if b.runtime else "from keras import layers")
    for cls in _runtime_classes():
        if cls in b.runtime:
            w.lines += ["", ""]
            w.block(_class_source(cls))
    w.lines += ["", ""] if b.runtime else [""]  # two blank lines after a class, one after the imports
    for name, value in b.constants:
        w.statement(f"{name} = ", value)
    w.statement("INPUTS = ", _shapes(graph, graph.inputs))
    w.statement("OUTPUTS = ", _shapes(graph, graph.outputs))
    for source in functions.sources:  # callees first, as keras.applications defines its blocks
        w.lines += ["", ""]
        w.block(source)
    w.lines += ["", ""]
    w.statement("", Seq(f"def {function}", "(", tuple(("", p) for p in _signature(graph, b)), ")"), " -> keras.Model:")
    w.lines += body.out.lines
    w.lines += ["", ""]
    w.line(f"build_model = {function}")
    return w.result(function, "build_model", "INPUTS", "OUTPUTS")


def _docstring(graph: Graph, function: str, kinds: set[str]) -> str:
    """The module's docstring; `kinds`: which block functions it has ("named", "anonymous": a call `as _`)."""
    name = file_label(graph.file)
    origin = f" from {name}" if name else ""
    first = "the shapes in its\ncomments are those of its first call.\n"
    blocks = {
        frozenset(): "",
        frozenset({"named"}): "A block's function names its layers `name` + their name in the block; " + first,
        frozenset({"anonymous"}): "A block called `as _` names its layers as the spec does, from its arguments; "
        + first,
        frozenset({"named", "anonymous"}): (
            "A block's function names its layers `name` + their name in the block (one called `as _`, as the\n"
            "spec does, from its arguments); the shapes in its comments are those of its first call.\n"
        ),
    }[frozenset(kinds)]
    return (
        f'"""{graph.name}: a Keras model generated by cnnc{origin}.\n\n'
        f"`{function}()` builds it (`build_model` is the same function); tensors are channels-last.\n" + blocks + '"""'
    )


def _one_or_list(values: list[str]) -> Expr:
    return values[0] if len(values) == 1 else list_of(*values)


def _shapes(graph: Graph, names: dict[str, str]) -> Expr:
    """{name: channels-last shape without the batch}."""
    return dict_of([(quote(k), literal(tuple(graph.node(v).shape))) for k, v in names.items()])


def _signature(graph: Graph, b: Builder) -> list[str]:
    """Keyword arguments for the network parameters, defaulting to the values the spec was compiled with."""
    parts = []
    for param, name in b.params.items():
        node_id, attr = b.sites[param][0]
        value = flat(literal(getattr(graph.node(node_id).attrs, attr)))
        hint = _TYPE_HINTS.get(graph.params[param].type)
        parts.append(f"{name}: {hint} = {value}" if hint else f"{name}={value}")
    return parts


@functools.cache
def _runtime() -> dict[str, str]:
    """runtime.py's classes in file order: name -> text, decorator included."""
    text = RUNTIME.read_text(encoding="utf-8")
    lines = text.splitlines()
    classes = {}
    for item in ast.parse(text).body:
        if isinstance(item, ast.ClassDef):
            start = min([item.lineno] + [d.lineno for d in item.decorator_list])
            classes[item.name] = "\n".join(lines[start - 1 : item.end_lineno])
    return classes


def _runtime_classes() -> list[str]:
    return list(_runtime())


def _class_source(name: str) -> str:
    return _runtime()[name]
