"""The generated Keras ResNet-50 against keras.applications.ResNet50, same input, same run.

    python bench/keras_resnet50.py [--batch 8] [--rounds 20] [--size 224]

Builds specs/keras_resnet50.cnn with the Keras backend and
keras.applications.ResNet50(weights=None), copies the reference's weights into
the generated model by layer name (the spec names its layers as Keras does) and
checks that the outputs are bit-identical, then times inference (`predict_on_batch`, the compiled predict
step) in interleaved rounds, alternating which model goes first, and prints the
median wall and CPU time of each and their ratios (generated / reference; the target is <= 1.02).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from cnnc.backends import keras as keras_backend  # noqa: E402
from cnnc.compiler import analyze  # noqa: E402


def build_pair(size: int):
    analysis = analyze(ROOT / "specs" / "keras_resnet50.cnn", input_shapes={None: (size, size, 3)})
    if not analysis.ok:
        raise SystemExit(f"specs/keras_resnet50.cnn does not check: {analysis.diagnostics}")
    ours = keras_backend.build(analysis.graph)
    reference = keras.applications.ResNet50(weights=None, input_shape=(size, size, 3))
    return ours, reference


def copy_weights(source, target) -> bool:
    """Reference weights into the generated layers of the same names; False if a name or a shape is missing."""
    layers = {layer.name: layer for layer in target.layers}
    pairs = [(layer, layers.get(layer.name)) for layer in source.layers if layer.weights]
    if any(b is None or [w.shape for w in a.weights] != [w.shape for w in b.weights] for a, b in pairs):
        return False
    for a, b in pairs:
        b.set_weights(a.get_weights())
    return True


def time_once(model, x) -> tuple[float, float]:
    """(wall, CPU) seconds of one inference; CPU time (all threads) is steadier on a shared machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.predict_on_batch(x)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()

    ours, reference = build_pair(args.size)
    x = np.random.default_rng(0).standard_normal((args.batch, args.size, args.size, 3)).astype(np.float32)
    print(f"params: generated {ours.count_params():,}, keras.applications {reference.count_params():,}")
    if copy_weights(reference, ours):
        diff = np.abs(ours.predict_on_batch(x) - reference.predict_on_batch(x)).max()
        print(f"same weights (by name), same input: max |difference| of the outputs {diff:.2e}")
    else:
        print("the reference's weights do not load by name")
    for model in (ours, reference):  # warm up: trace and compile the predict step
        time_once(model, x)
        time_once(model, x)
    times: dict[str, list[tuple[float, float]]] = {"generated": [], "reference": []}
    for i in range(args.rounds):
        order = [("generated", ours), ("reference", reference)]
        for name, model in order if i % 2 == 0 else order[::-1]:
            times[name].append(time_once(model, x))
    print(f"batch {args.batch} at {args.size}x{args.size}, {args.rounds} interleaved rounds, {os.cpu_count()} CPUs")
    summary = {}
    for label, name in (("generated ResNet50 (cnnc)", "generated"), ("keras.applications.ResNet50", "reference")):
        wall, cpu = zip(*times[name])
        summary[name] = (statistics.median(wall), min(wall), statistics.median(cpu))
        print(f"{label:30} wall median {summary[name][0] * 1000:8.1f} ms   min {summary[name][1] * 1000:8.1f} ms"
              f"   CPU median {summary[name][2] * 1000:8.1f} ms")
    ratios = [a / b for a, b in zip(summary["generated"], summary["reference"])]
    print(f"ratio generated / reference: {ratios[0]:.3f} (wall median), {ratios[1]:.3f} (wall min), "
          f"{ratios[2]:.3f} (CPU median)")

if __name__ == "__main__":
    main()
