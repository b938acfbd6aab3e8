"""Every generated model against its hand-written reference: forward time, same weights, same process.

    python bench/models.py                       # every pair below, reduced input size, 3 repeats
    python bench/models.py --quick               # tiny inputs, few rounds: checks that it all still runs
    python bench/models.py --only resnet50,keras_resnet50 --size 224 --batch 8
    python bench/models.py --compile resnet50    # also torch.compile time, generated vs torchvision

One row of `PAIRS` per library spec whose layers are named as the reference's, so the reference's
weights load into the generated model as they are: torchvision for the torch-flavoured specs
(`load_state_dict(strict=True)`, batch-norm statistics randomised so a wrong buffer shows),
keras.applications for the Keras-flavoured ones (weights copied by layer name).  Before timing,
the two outputs must agree (the bench stops otherwise).  Each pair is then timed in `--repeats`
repeats of `--rounds` interleaved rounds (generated, reference; then reference, generated; ...), so
load from elsewhere on the machine falls on both alike; a repeat's ratio is median(generated) /
median(reference), and the table shows the median ratio over repeats with its min and max.

To add a pair, add a row (the spec must load the reference's weights: tests/test_torchvision_weights.py
and tests/test_keras_applications.py check that).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Pair:
    name: str
    framework: str  # "torch": torchvision reference; "keras": keras.applications reference
    spec: str  # in specs/
    reference: str  # torchvision.models builder / keras.applications class
    min_size: int = 32  # the smallest input the network takes
    overrides: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # the reference builder's keyword arguments


PAIRS = [
    Pair("resnet18", "torch", "resnet18.cnn", "resnet18"),
    Pair("resnet34", "torch", "resnet34.cnn", "resnet34"),
    Pair("resnet50", "torch", "resnet50.cnn", "resnet50"),
    Pair("vgg16", "torch", "vgg16.cnn", "vgg16"),
    Pair("alexnet", "torch", "alexnet.cnn", "alexnet", min_size=64),
    Pair("squeezenet1_0", "torch", "squeezenet.cnn", "squeezenet1_0"),
    Pair("squeezenet1_1", "torch", "squeezenet.cnn", "squeezenet1_1", overrides={"version": 1.1}),
    Pair("efficientnet_b0", "torch", "efficientnet.cnn", "efficientnet_b0"),
    Pair("densenet121", "torch", "densenet121.cnn", "densenet121"),
    Pair("mobilenet_v2", "torch", "torchvision_mobilenet_v2.cnn", "mobilenet_v2"),
    Pair("googlenet", "torch", "googlenet.cnn", "googlenet", overrides={"aux_logits": False},
         options={"aux_logits": False, "init_weights": False}),
    Pair("inception_v3", "torch", "torchvision_inception_v3.cnn", "inception_v3", min_size=75,
         overrides={"aux_logits": False}, options={"aux_logits": False, "init_weights": False}),
    Pair("mobilenet_v3_large", "torch", "mobilenet_v3.cnn", "mobilenet_v3_large"),
    Pair("resnext50_32x4d", "torch", "resnext50_32x4d.cnn", "resnext50_32x4d"),
    Pair("keras_resnet50", "keras", "keras_resnet50.cnn", "ResNet50"),
    Pair("keras_resnet50v2", "keras", "keras_resnet50v2.cnn", "ResNet50V2"),
    Pair("keras_vgg16", "keras", "keras_vgg16.cnn", "VGG16"),
    Pair("keras_densenet121", "keras", "keras_densenet121.cnn", "DenseNet121"),
    Pair("keras_mobilenet", "keras", "mobilenet.cnn", "MobileNet"),
    Pair("keras_mobilenet_v2", "keras", "mobilenet_v2.cnn", "MobileNetV2"),
    Pair("keras_inception_v3", "keras", "inception_v3.cnn", "InceptionV3", min_size=75),
    Pair("keras_xception", "keras", "xception.cnn", "Xception", min_size=71),
]


# --- building a pair: (generated, reference, input, run) ------------------------------------------


def analysis_of(pair: Pair, size: int):
    from cnnc.compiler import analyze

    spec = ROOT / "specs" / pair.spec
    analysis = analyze(spec, overrides=pair.overrides or None, input_shapes={None: (size, size, 3)})
    if not analysis.ok:
        raise SystemExit(f"{pair.spec} does not check: {[d.message for d in analysis.diagnostics]}")
    return analysis


def torch_pair(pair: Pair, size: int, batch: int):
    import torch
    import torchvision

    from cnnc.backends.torch import generate

    set_torch_threads()
    torch.manual_seed(0)
    module = types.ModuleType(f"generated_{pair.name}")
    exec(compile(generate(analysis_of(pair, size))["model.py"], f"{pair.name}/model.py", "exec"), module.__dict__)
    generated = module.build_model().eval()
    reference = getattr(torchvision.models, pair.reference)(weights=None, **pair.options).eval()
    generator = torch.Generator().manual_seed(1)
    for m in reference.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=generator) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=generator) + 0.5)
    generated.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(batch, 3, size, size, generator=generator)

    def run(model):
        with torch.inference_mode():
            return model(x)

    return generated, reference, run, lambda out: out.numpy()


def keras_pair(pair: Pair, size: int, batch: int):
    set_tensorflow_threads()
    import keras
    import numpy as np

    from cnnc.backends import keras as keras_backend

    keras.backend.clear_session()  # auto-named reference layers count from a fresh session
    reference = getattr(keras.applications, pair.reference)(weights=None, input_shape=(size, size, 3), **pair.options)
    generated = keras_backend.build(analysis_of(pair, size).graph)
    layers = {layer.name: layer for layer in generated.layers}
    for layer in reference.layers:
        if layer.weights:
            layers[layer.name].set_weights(layer.get_weights())  # a KeyError: the spec does not name it so
    x = np.random.default_rng(0).standard_normal((batch, size, size, 3)).astype(np.float32)
    return generated, reference, lambda model: model.predict_on_batch(x), np.asarray


BUILDERS: dict[str, Callable] = {"torch": torch_pair, "keras": keras_pair}


THREADS = {"n": 0}  # intra-op threads for both frameworks (0: their defaults)


def set_torch_threads() -> None:
    import torch

    if THREADS["n"]:
        torch.set_num_threads(THREADS["n"])


def set_tensorflow_threads() -> None:
    """Before TensorFlow's first op.  TensorFlow is imported only when the first Keras pair is built, after
    the torch pairs: imported first, it made torch crash in this process (oneDNN and OpenMP libraries)."""
    import tensorflow as tf

    if THREADS["n"] and tf.config.threading.get_intra_op_parallelism_threads() != THREADS["n"]:
        tf.config.threading.set_intra_op_parallelism_threads(THREADS["n"])
        tf.config.threading.set_inter_op_parallelism_threads(THREADS["n"])


# --- timing -------------------------------------------------------------------------------------


def interleaved(run, models: dict, rounds: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds per call, the order alternating each round.  CPU time (this process's, all
    threads) is what a call costs whatever else runs on the machine; wall time is what a user waits."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    for r in range(rounds):
        for name in list(models) if r % 2 == 0 else list(reversed(models)):
            wall, cpu = time.perf_counter(), time.process_time()
            run(models[name])
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def measure(pair: Pair, args) -> dict:
    size = max(args.size, pair.min_size)
    generated, reference, run, as_array = BUILDERS[pair.framework](pair, size, args.batch)
    difference = float(abs(as_array(run(generated)) - as_array(run(reference))).max())
    if difference > args.tolerance:
        raise SystemExit(f"{pair.name}: outputs differ by {difference:.2e} on the same weights")
    models = {"generated": generated, "reference": reference}
    interleaved(run, models, args.warmup)
    ratios, cpu_ratios, medians = [], [], {"generated": [], "reference": []}
    for _ in range(args.repeats):
        times = interleaved(run, models, args.rounds)
        wall = {name: statistics.median(t[0] for t in times[name]) for name in models}
        cpu = {name: statistics.median(t[1] for t in times[name]) for name in models}
        for name in models:
            medians[name].append(wall[name])
        ratios.append(wall["generated"] / wall["reference"])
        cpu_ratios.append(cpu["generated"] / cpu["reference"])
    return {"name": pair.name, "framework": pair.framework, "size": size, "difference": difference,
            "ratio": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
            "cpu_ratio": statistics.median(cpu_ratios),
            "generated_ms": 1000 * statistics.median(medians["generated"]),
            "reference_ms": 1000 * statistics.median(medians["reference"])}


def compile_times(pair: Pair, args) -> dict:
    """Seconds to the first output of torch.compile(fullgraph=True), each model compiled afresh (caches off),
    interleaved; the ratio of the medians, and the per-round ratios' min and max."""
    import torch

    size = max(args.size, pair.min_size)
    generated, reference, run, _ = torch_pair(pair, size, args.batch)
    torch._inductor.config.force_disable_caches = True  # each compile from scratch, not from the last one's cache
    warm = torch.compile(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()), fullgraph=True)
    warm(torch.randn(1, 3, 8, 8))  # the first compile in a process also loads and builds inductor itself
    seconds: dict[str, list[float]] = {"generated": [], "reference": []}
    for r in range(args.compile_repeats):
        for name in ("generated", "reference") if r % 2 == 0 else ("reference", "generated"):
            torch._dynamo.reset()
            compiled = torch.compile({"generated": generated, "reference": reference}[name], fullgraph=True)
            start = time.perf_counter()
            run(compiled)
            seconds[name].append(time.perf_counter() - start)
    ratios = [g / r for g, r in zip(seconds["generated"], seconds["reference"], strict=True)]
    generated_s, reference_s = statistics.median(seconds["generated"]), statistics.median(seconds["reference"])
    return {"name": pair.name, "generated_s": generated_s, "reference_s": reference_s,
            "ratio": generated_s / reference_s, "min": min(ratios), "max": max(ratios)}


# --- the command ---------------------------------------------------------------------------------


def compile_row(pair: Pair, args) -> None:
    c = compile_times(pair, args)
    print(f"torch.compile(fullgraph=True) {c['name']}: generated {c['generated_s']:.1f} s, reference "
          f"{c['reference_s']:.1f} s (medians of {args.compile_repeats}), ratio {c['ratio']:.3f} (per round "
          f"{c['min']:.3f}-{c['max']:.3f})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated pair names (default: every pair)")
    parser.add_argument("--framework", choices=("torch", "keras", "both"), default="both")
    parser.add_argument("--size", type=int, default=112, help="input height and width (raised to a pair's minimum)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads of both frameworks (1: steadiest on a loaded machine; 0: default)")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest output difference allowed")
    parser.add_argument("--compile", metavar="PAIR", help="also time torch.compile of this torch pair")
    parser.add_argument("--compile-repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one short repeat: does it all still run")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.batch, args.rounds, args.repeats, args.warmup, args.compile_repeats = 32, 1, 2, 1, 1, 1
    chosen = [p for p in PAIRS if args.framework in ("both", p.framework)]
    if args.only:
        names = args.only.split(",")
        unknown = sorted(set(names) - {p.name for p in PAIRS})
        if unknown:
            parser.error(f"no pair named {', '.join(unknown)} (pairs: {', '.join(p.name for p in PAIRS)})")
        chosen = [p for p in chosen if p.name in names]
    THREADS["n"] = args.threads
    chosen.sort(key=lambda p: p.framework != "torch")  # torch pairs first (see set_tensorflow_threads)
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs; batch "
          f"{args.batch}, {args.threads or 'default'} thread(s), {args.repeats} repeats of {args.rounds} "
          f"interleaved rounds; ratio = generated / reference, median wall time", flush=True)
    print(f"{'pair':20} {'size':>5} {'generated ms':>13} {'reference ms':>13} {'ratio':>7}  {'min-max':>11}  "
          f"{'CPU ratio':>9}  {'max |diff|':>10}", flush=True)
    compiled = None
    if args.compile:
        compiled = next((p for p in PAIRS if p.name == args.compile and p.framework == "torch"), None)
        if compiled is None:
            parser.error(f"--compile takes a torch pair, not {args.compile}")
    for pair in chosen:
        if compiled is not None and pair.framework != "torch":
            compile_row(compiled, args)  # before TensorFlow is imported
            compiled = None
        r = measure(pair, args)
        print(f"{r['name']:20} {r['size']:5d} {r['generated_ms']:13.1f} {r['reference_ms']:13.1f} {r['ratio']:7.3f}  "
              f"{r['min']:.3f}-{r['max']:.3f}  {r['cpu_ratio']:9.3f}  {r['difference']:10.1e}", flush=True)
    if compiled is not None:
        compile_row(compiled, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
