"""Training throughput of the harness against a minimal hand-written loop, same model, same data, same run.

    python bench/train_throughput.py                      # both frameworks, LeNet-5 on the digits
    python bench/train_throughput.py --framework torch --epochs 8 --threads 2

The spec (examples/digits/lenet5.cnn) is compiled with `--task classify` into a temporary folder; the
harness side is that folder's own runtime (`Trainer.train_epoch`: loader, sampler, guard, progress,
running metrics); the minimal side is what a person writes by hand on the same compiled model: PyTorch,
tensors already in memory, a shuffled index per epoch, forward, loss, backward, step; Keras,
`model.fit(x, y, batch_size, epochs=1, shuffle=True)` on the arrays.  Same optimizer, batch size, loss
and thread count.  Epochs alternate between the two (harness, minimal, harness, ...) so that load from
other processes on the machine falls on both alike; the ratio is the median over epochs of harness / minimal
(wall clock; the CPU-time ratio beside it is steadier on a shared machine), the first epoch of each (warm-up,
tracing) left out; the rates shown are the median epochs'.  Each framework runs in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "digits" / "lenet5.cnn"


def compile_folder(framework: str, out: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from cnnc.cli import main

    assert main(["compile", str(SPEC), "--target", framework, "--task", "classify", "-o", str(out)]) == 0
    return out


def options(args, data: Path, out: Path) -> list[str]:
    return ["--data", str(data), "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
            "--optimizer", "adam", "--lr", "0.001", "--threads", str(args.threads), "--out", str(out),
            "--progress", "none"]


def measure(framework: str, args) -> dict:
    """In a process of its own: compile, then alternate harness and minimal epochs."""
    work = Path(tempfile.mkdtemp(prefix=f"cnnc-bench-{framework}-"))
    sys.path.insert(0, str(ROOT / "examples" / "digits"))
    import make_data

    data = make_data.main(work / "digits.npz")
    folder = compile_folder(framework, work / "build")
    sys.path.insert(0, str(folder))
    from cnnc_tasks.runtime import loop

    rt = __import__(f"cnnc_tasks.runtime.{framework}_lib", fromlist=["x"])
    import train
    from model import build_model

    cfg = rt.parse_args(train.options, train.CONFIG, options(args, data, work / "run"))
    env = rt.setup(cfg)
    trainer = train.build_trainer(cfg, env)  # the compiled script's own data, model, optimizer and task
    loaded, pipeline = trainer.data, trainer.pipeline
    minimal = MINIMAL[framework](build_model, loaded, pipeline, cfg)
    progress, guard = loop.Progress("none"), loop.Guard(cfg.max_loss_ratio)
    images = len(loaded.train) // cfg.batch_size * cfg.batch_size  # whole batches (the harness drops the rest)
    wall: dict[str, list[float]] = {"harness": [], "minimal": []}
    cpu: dict[str, list[float]] = {"harness": [], "minimal": []}
    for epoch in range(args.epochs):
        for side in ("harness", "minimal"):
            start, start_cpu = time.perf_counter(), time.process_time()
            count = trainer.train_epoch(epoch, cfg.lr, progress, guard) if side == "harness" else minimal(epoch)
            count = count if isinstance(count, int) else images
            wall[side].append(count / (time.perf_counter() - start))
            cpu[side].append(count / (time.process_time() - start_cpu))
    # per epoch pair, the ratio; the median of those (the first pair is warm-up) resists load from elsewhere
    pair = {k: statistics.median(h / m for h, m in zip(v["harness"][1:], v["minimal"][1:], strict=True))
            for k, v in (("wall", wall), ("cpu", cpu))}
    return {"framework": framework, "harness": statistics.median(wall["harness"][1:]),
            "minimal": statistics.median(wall["minimal"][1:]), "ratio": pair["wall"], "cpu_ratio": pair["cpu"],
            "harness_epochs": wall["harness"], "minimal_epochs": wall["minimal"], "threads": args.threads,
            "batch_size": args.batch_size, "images": len(loaded.train)}


def minimal_torch(build_model, data, pipeline, cfg):
    import torch
    import torch.nn.functional as F

    x, y = pipeline.batch(data.train, __import__("numpy").arange(len(data.train)), 0, train=False)
    x = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(y)
    model = build_model(num_classes=data.num_classes)
    optimizer = torch.optim.Adam(model.parameters(), cfg.lr)
    n, batch = len(y), cfg.batch_size

    def epoch(e: int) -> int:
        model.train()
        order = torch.randperm(n)
        for i in range(0, n - batch + 1, batch):
            idx = order[i:i + batch]
            loss = F.nll_loss(torch.log(model(x[idx]).clamp_min(1e-7)), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return (n // batch) * batch
    return epoch


def minimal_keras(build_model, data, pipeline, cfg):
    import keras
    import numpy as np

    x, y = pipeline.batch(data.train, np.arange(len(data.train)), 0, train=False)
    model = build_model(num_classes=data.num_classes)
    model.compile(keras.optimizers.Adam(cfg.lr, epsilon=1e-8), "sparse_categorical_crossentropy")

    def epoch(e: int) -> int:
        model.fit(x, y, batch_size=cfg.batch_size, epochs=1, verbose=0, shuffle=True)
        return len(y)
    return epoch


MINIMAL = {"torch": minimal_torch, "keras": minimal_keras}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framework", choices=("torch", "keras", "both"), default="both")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON line per framework")
    args = parser.parse_args()
    if args.framework != "both" and os.environ.get("CNNC_BENCH_CHILD"):
        print(json.dumps(measure(args.framework, SimpleNamespace(**vars(args)))))
        return 0
    results = []
    for framework in ("torch", "keras") if args.framework == "both" else (args.framework,):
        command = [sys.executable, __file__, "--framework", framework, "--epochs", str(args.epochs),
                   "--batch-size", str(args.batch_size), "--threads", str(args.threads)]
        env = {**os.environ, "CNNC_BENCH_CHILD": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
        proc = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=True)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    for r in results:
        print(json.dumps(r) if args.json else
              f"{r['framework']:6s} harness {r['harness']:6.0f} img/s   minimal loop {r['minimal']:6.0f} img/s   "
              f"ratio {r['ratio']:.3f} (CPU time {r['cpu_ratio']:.3f})   (LeNet-5, {r['images']} digits 32x32, "
              f"batch {r['batch_size']}, {r['threads']} thread(s), epochs 2..{len(r['harness_epochs'])})")
    return 0 if all(r["ratio"] >= 0.9 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
