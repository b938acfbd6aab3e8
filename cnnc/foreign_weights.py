"""Weights from elsewhere: a torchvision state dict or a Keras weights file, aligned to a spec's model.

A reference implementation (torchvision's resnet18, keras.applications'
MobileNetV2) names its layers its own way, but stores the same tensors in the
same order as the spec's model when the spec describes the same architecture.
So the weights are aligned by structure: the spec's layers with weights, in
spec order, each take the next tensors of the file, and every shape must agree
(in the file's own layout); one disagreement refuses the whole file, so a
partial load never happens silently.  Where the file's names already equal the
model's (a file saved from the generated model), they are matched by name.

Three sources, read without building any model:

  torch   a state dict (.pt/.pth, or a checkpoint holding one under "model" or "state_dict"):
          its tensors in order; `num_batches_tracked` counters are kept but are not layers
  keras   a legacy .h5 (tf.keras and the keras.applications downloads): the layers in model order
          a Keras 3 .weights.h5: layers are stored under their class's counter (`conv2d_3`), so
          the order is kept per class; each spec layer takes the next layer of its class

The result is a state dict of the generated PyTorch model (numpy arrays), the
hub from which `cnnc.weights` writes the Keras layout (kernels (kh,kw,in,out),
a dense layer after flatten with its rows in H,W,C order).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnc.errors import UsageError
from cnnc.ir.graph import Graph, Node
from cnnc.weights import (
    RULES,
    TORCH_ONLY,
    Tensor,
    flat_orders,
    keras_layer_name,
    torch_key,
    torch_state_from_keras,
    weight_layers,
)

Array = np.ndarray
_COUNTER = "num_batches_tracked"
# a weight layer's Keras class, as a Keras 3 .weights.h5 names its group (`conv2d_3`, `batch_normalization`)
_KERAS_CLASS: dict[str, Callable[[Node], str]] = {
    "conv": lambda n: f"conv{len(n.shape) - 1}d",
    "pointwise": lambda n: f"conv{len(n.shape) - 1}d",
    "conv_transpose": lambda n: f"conv{len(n.shape) - 1}d_transpose",
    "depthwise": lambda n: "depthwise_conv2d" if len(n.shape) == 3 else f"conv{len(n.shape) - 1}d",
    "separable": lambda n: f"separable_conv{len(n.shape) - 1}d",
    "dense": lambda n: "dense",
    "batchnorm": lambda n: "batch_normalization",
}


class WeightsError(UsageError):
    """A weights file that cannot be read or does not fit the spec: one summary line, then the details."""

    def __init__(self, summary: str, details: list[str] | None = None) -> None:
        super().__init__("\n".join([summary, *(f"  {line}" for line in details or [])]))
        self.summary = summary


@dataclass
class Source:
    """A weights file's tensors: (name, array) streams in stored order, in the file's framework layout."""

    path: str
    framework: str  # "torch" or "keras"
    streams: dict[str | None, list[tuple[str, Array]]]  # None: one stream in model order; else per Keras class
    counters: dict[str, Array] = field(default_factory=dict)  # torch's num_batches_tracked, by key

    def names(self) -> set[str]:
        return {name for stream in self.streams.values() for name, _ in stream}


@dataclass
class Match:
    """One tensor taken: the file's name -> the generated model's key, and its shape in the file."""

    source: str
    target: str
    shape: tuple[int, ...]


@dataclass
class Imported:
    """A generated-model state dict (numpy), how it was matched, and every tensor taken or left."""

    state: dict[str, Array]
    matches: list[Match]
    by: str  # "name" or "structure"
    left: list[str] = field(default_factory=list)  # the new head's keys, left as initialised

    def report(self) -> list[str]:
        lines = [f"{m.source} -> {m.target} {_shape(m.shape)}" for m in self.matches]
        return lines + [f"(new head) {key} left as initialised" for key in self.left]


# --- reading ---------------------------------------------------------------------------


def read_source(path: Path | str) -> Source:
    """The tensors of a weights file: a Keras .h5/.weights.h5, or else a PyTorch state dict."""
    path = str(path)
    if not Path(path).is_file():
        raise WeightsError(f"no weights file {path}")
    if path.endswith(".h5"):
        return _read_keras(path)
    return _read_torch(path)


def _read_torch(path: str) -> Source:
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a file it cannot unpickle
        raise WeightsError(f"cannot read weights {path}: not a PyTorch state dict ({_first_line(exc)})") from None
    for wrapper in ("model", "state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not obj or not all(hasattr(v, "shape") for v in obj.values()):
        raise WeightsError(f"cannot read weights {path}: not a PyTorch state dict (a dict of tensors)")
    tensors, counters = [], {}
    for key, value in obj.items():
        array = value.detach().cpu().numpy()
        if key.endswith("." + _COUNTER) or key == _COUNTER:
            counters[key] = array
        else:
            tensors.append((key, array))
    return Source(path, "torch", {None: tensors}, counters)


def _read_keras(path: str) -> Source:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            if "layer_names" in root.attrs:
                return Source(path, "keras", {None: list(_legacy_tensors(root))})
            if "layers" in root:
                return Source(path, "keras", _keras3_streams(root["layers"]))
    except OSError as exc:
        raise WeightsError(f"cannot read weights {path}: not an HDF5 file ({_first_line(exc)})") from None
    raise WeightsError(f"cannot read weights {path}: an HDF5 file, but not Keras weights (no layers in it)")


def _legacy_tensors(root) -> Iterator[tuple[str, Array]]:
    """tf.keras' format: `layer_names` in model order, each layer's `weight_names` in get_weights() order."""
    for layer in root.attrs["layer_names"]:
        group = root[_text(layer)]
        for weight in group.attrs.get("weight_names", []):
            yield _text(weight), np.asarray(group[_text(weight)])


def _keras3_streams(layers) -> dict[str | None, list[tuple[str, Array]]]:
    """Keras 3's format: `layers/<class>_<n>/vars/<i>`; the counter n orders the layers of one class."""
    streams: dict[str | None, list[tuple[str, Array]]] = {}
    for name in sorted(layers, key=_class_and_counter):
        variables = layers[name].get("vars")
        if variables is None or not len(variables):
            continue
        kind = _class_and_counter(name)[0]
        streams.setdefault(kind, []).extend(
            (f"{name}/vars/{i}", np.asarray(variables[str(i)])) for i in range(len(variables))
        )
    return streams


def _class_and_counter(name: str) -> tuple[str, int]:
    match = re.fullmatch(r"(.*?)(?:_(\d+))?", name)
    return match.group(1), int(match.group(2) or 0)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _first_line(exc: Exception) -> str:
    """A library's reason in a few words (torch's unpickling errors run to a paragraph)."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 60 else f"{type(exc).__name__}: {line[:50]}..."


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(int(d) for d in shape))


# --- aligning --------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One tensor the spec's model needs: its layer, its rule and its shape in each layout."""

    node: Node
    tensor: Tensor
    torch_shape: tuple[int, ...]
    keras_shape: tuple[int, ...]

    @property
    def key(self) -> str:
        return torch_key(self.node, self.tensor.suffix)


def slots(graph: Graph, torch_shapes: dict[str, tuple[int, ...]]) -> list[Slot]:
    """Every weight tensor of the spec's model in spec order; `torch_shapes`: the generated state dict's."""
    orders = flat_orders(graph)
    out = []
    for node in weight_layers(graph):
        for tensor in RULES[node.op.name](graph, node, orders):
            shape = torch_shapes[torch_key(node, tensor.suffix)]
            keras = tensor.to_keras(np.broadcast_to(np.float32(0), shape)).shape
            out.append(Slot(node, tensor, tuple(shape), tuple(keras)))
    return out


def align(graph: Graph, source: Source, torch_shapes: dict[str, tuple[int, ...]], new_head: bool = False) -> Imported:
    """The file's tensors as the generated model's state dict: by name if its names are the model's, else
    by structure.  `new_head`: the last layer with weights may differ (another number of classes)."""
    needed = slots(graph, torch_shapes)
    if source.framework == "torch" and {s.key for s in needed} <= source.names():
        by_name = _align_by_name(needed, source, new_head)
        if by_name is not None:
            return by_name
    return _align_by_structure(graph, needed, source, new_head)


def _align_by_name(needed: list[Slot], source: Source, new_head: bool) -> Imported | None:
    (stream,) = source.streams.values()
    arrays = dict(stream)
    if set(arrays) - {slot.key for slot in needed}:
        return None  # tensors the model has no place for (a deeper network): the structural pass refuses them
    head = needed[-1].node
    matches, left, state = [], [], {}
    for slot in needed:
        if arrays[slot.key].shape != slot.torch_shape:
            if new_head and slot.node is head:
                left.append(slot.key)
                continue
            return None  # same names, other shapes: let the structural pass name the layer that differs
        matches.append(Match(slot.key, slot.key, slot.torch_shape))
        state[slot.key] = arrays[slot.key]
    state.update(_counters(needed, source, by_name=True))
    return Imported(state, matches, "name", left)


def _align_by_structure(graph: Graph, needed: list[Slot], source: Source, new_head: bool) -> Imported:
    streams = {kind: iter(stream) for kind, stream in source.streams.items()}
    used = {kind: 0 for kind in streams}
    taken: list[tuple[Slot, str, Array]] = []
    left: list[str] = []
    head = needed[-1].node
    for slot in needed:
        kind = None if None in streams else _KERAS_CLASS[slot.node.op.name](slot.node)
        item = next(streams[kind], None) if kind in streams else None
        used[kind] = used.get(kind, 0) + (item is not None)
        expected = slot.torch_shape if source.framework == "torch" else slot.keras_shape
        if item is not None and item[1].shape == expected:
            taken.append((slot, *item))
        elif new_head and slot.node is head and item is not None:
            left.append(slot.key)
        else:
            raise _mismatch(source, slot, item, expected)
    extra = sum(len(source.streams[k]) - used[k] for k in source.streams)
    if extra:
        raise WeightsError(
            f"{source.path} does not fit the spec: it has {extra} more tensors than the model",
            [
                f"the model's {len(needed)} weight tensors all matched; the file goes on with "
                f"{_first_extra(source, used)}"
            ],
        )
    return _imported(graph, needed, source, taken, left)


def _imported(graph: Graph, needed: list[Slot], source: Source, taken: list, left: list[str]) -> Imported:
    matches = [Match(name, slot.key, array.shape) for slot, name, array in taken]
    if source.framework == "torch":
        state = {slot.key: array for slot, _, array in taken}
        state.update(_counters(needed, source, by_name=False))
    else:
        state = _torch_from_keras_layers(graph, needed, taken)
        for key in left:
            state.pop(key, None)
    return Imported(state, matches, "structure", left)


def _torch_from_keras_layers(graph: Graph, needed: list[Slot], taken: list) -> dict[str, Array]:
    """Keras-layout arrays (taken slot by slot) -> the generated state dict, through cnnc.weights' moves."""
    arrays = {slot.key: array for slot, _, array in taken}
    layers: dict[str, list[Array]] = {}
    for slot in needed:
        fallback = slot.tensor.to_keras(np.zeros(slot.torch_shape, np.float32))  # a new head, left as is
        layers.setdefault(keras_layer_name(slot.node), []).append(arrays.get(slot.key, fallback))
    return torch_state_from_keras(graph, layers)


def _counters(needed: list[Slot], source: Source, by_name: bool) -> dict[str, Array]:
    """num_batches_tracked of each batch norm: the file's (by name, or in order), else 0."""
    norms = [s.node for s in needed if s.node.op.name in TORCH_ONLY and s.tensor.suffix == "running_var"]
    theirs = list(source.counters.values())
    out = {}
    for i, node in enumerate(norms):
        for suffix, zero in TORCH_ONLY[node.op.name].items():
            key = torch_key(node, suffix)
            value = source.counters.get(key) if by_name else (theirs[i] if len(theirs) == len(norms) else None)
            out[key] = zero() if value is None else np.asarray(value, dtype=np.int64)
    return out


def _mismatch(source: Source, slot: Slot, item: tuple[str, Array] | None, expected: tuple) -> WeightsError:
    node = slot.node
    layer = f"{node.op.name} `{node.id}` ({node.span}), {slot.key}"
    if item is None:
        return WeightsError(
            f"{source.path} does not fit the spec: it has no tensor left for {slot.key}",
            [f"the spec's {layer} needs {_shape(expected)}; the file's tensors ran out"],
        )
    name, array = item
    return WeightsError(
        f"{source.path} does not fit the spec: {name} is {_shape(array.shape)}, "
        f"the spec's {slot.key} needs {_shape(expected)}",
        [
            f"layer: the spec's {layer}",
            f"file tensor: {name} {_shape(array.shape)} ({source.framework} layout)",
            "nothing was loaded: is the file from the same architecture, with the same --set and --input?",
        ],
    )


def _first_extra(source: Source, used: dict) -> str:
    for kind, stream in source.streams.items():
        if len(stream) > used[kind]:
            name, array = stream[used[kind]]
            return f"{name} {_shape(array.shape)}"
    return ""


# --- the generated models ------------------------------------------------------------


def generated_torch_shapes(graph: Graph) -> dict[str, tuple[int, ...]]:
    """The generated PyTorch model's state-dict shapes (built on the meta device: no memory, no init)."""
    import torch

    from cnnc.backends.torch.model import render_model

    namespace: dict = {}
    exec(compile(render_model(graph).src, "<cnnc generated model>", "exec"), namespace)
    with torch.device("meta"):
        model = namespace["build_model"]()
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def import_weights(graph: Graph, path: Path | str, new_head: bool = False) -> Imported:
    """Read a weights file and align it to the spec's generated model (see the module's docstring)."""
    return align(graph, read_source(path), generated_torch_shapes(graph), new_head)


def write_weights(graph: Graph, imported: Imported, out: Path | str, target: str) -> None:
    """Write the aligned weights in the target's own format: a state dict (.pt) or a Keras .weights.h5."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if target == "torch":
        import torch

        torch.save({key: torch.tensor(a) for key, a in imported.state.items()}, out)  # a copy, 0-d kept 0-d
        return
    from cnnc.backends import keras as keras_backend
    from cnnc.weights import keras_weights_from_torch

    model = keras_backend.build(graph)
    for name, arrays in keras_weights_from_torch(graph, _with_initial_head(graph, imported, model)).items():
        model.get_layer(name).set_weights(arrays)
    model.save_weights(str(out))


def _with_initial_head(graph: Graph, imported: Imported, keras_model) -> dict[str, Array]:
    """The state, with a new head's tensors taken from the freshly initialised Keras model."""
    if not imported.left:
        return imported.state
    from cnnc.weights import torch_state_dict_from_keras

    initial = {k: v.numpy() for k, v in torch_state_dict_from_keras(graph, keras_model).items()}
    return {**initial, **imported.state}
