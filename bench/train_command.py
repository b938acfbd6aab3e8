"""The whole `cnnc train` digits command against the same work written by hand (bench/digits_minimal.py).

    python bench/train_command.py                         # both frameworks, 3 interleaved rounds
    python bench/train_command.py --framework torch --rounds 5
    python bench/train_command.py --quick                 # 2 epochs, 1 round: does it all still run

Each round runs, as separate processes and alternating which goes first, the README's command

    cnnc train examples/digits/lenet5.cnn --target T --data digits.npz --epochs 20 --optimizer adam
        --lr 0.002 --schedule cosine --normalize standardize --threads 1

and `python bench/digits_minimal.py --framework T`.  Whole: the wall time of each process, start to
exit (compiling the spec, starting the framework, the data, every epoch with its validation, the test).
Steps: the training images per second, median over epochs 2.. (the harness's from its log.csv, the
loop's from its own timing of the steps).  CPU: the user and system seconds of each process and its
children, steadier than wall time on a loaded machine.  The table shows the median over rounds of the ratios
harness / minimal with their min and max, and both test accuracies.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "digits" / "lenet5.cnn"
OPTIONS = ["--optimizer", "adam", "--lr", "0.002", "--schedule", "cosine", "--normalize", "standardize",
           "--threads", "1", "--progress", "none"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, output)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if proc.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stdout[-3000:]}")
    return seconds, cpu, proc.stdout


def harness(framework: str, data: Path, epochs: int, work: Path) -> dict:
    build = work / f"build-{framework}"
    command = [sys.executable, "-m", "cnnc", "train", str(SPEC), "--target", framework, "--data", str(data),
               "--epochs", str(epochs), "--build", str(build), *OPTIONS]
    seconds, cpu, _ = timed(command, work)
    with open(build / "run" / "log.csv") as f:
        rates = [float(row["images_per_s"]) for row in csv.DictReader(f)]
    accuracy = json.loads((build / "run" / "metrics.json").read_text())["acc"]
    return {"seconds": seconds, "cpu": cpu, "rate": statistics.median(rates[1:] or rates), "accuracy": accuracy}


def minimal(framework: str, data: Path, epochs: int, work: Path) -> dict:
    command = [sys.executable, str(ROOT / "bench" / "digits_minimal.py"), "--framework", framework, "--data",
               str(data), "--epochs", str(epochs)]
    seconds, cpu, out = timed(command, work)
    result = json.loads(out.strip().splitlines()[-1])
    rates = result["images_per_s"]
    return {"seconds": seconds, "cpu": cpu, "rate": statistics.median(rates[1:] or rates),
            "accuracy": result["accuracy"]}


def measure(framework: str, args, data: Path, work: Path) -> dict:
    runs: dict[str, list[dict]] = {"harness": [], "minimal": []}
    sides = {"harness": harness, "minimal": minimal}
    for r in range(args.rounds):
        for side in ("harness", "minimal") if r % 2 == 0 else ("minimal", "harness"):
            runs[side].append(sides[side](framework, data, args.epochs, work))
    whole = [h["seconds"] / m["seconds"] for h, m in zip(runs["harness"], runs["minimal"], strict=True)]
    cpu = [h["cpu"] / m["cpu"] for h, m in zip(runs["harness"], runs["minimal"], strict=True)]
    steps = [h["rate"] / m["rate"] for h, m in zip(runs["harness"], runs["minimal"], strict=True)]
    return {
        "framework": framework, "rounds": args.rounds, "epochs": args.epochs,
        "harness_s": statistics.median(r["seconds"] for r in runs["harness"]),
        "minimal_s": statistics.median(r["seconds"] for r in runs["minimal"]),
        "whole": statistics.median(whole), "whole_min": min(whole), "whole_max": max(whole),
        "cpu": statistics.median(cpu), "cpu_min": min(cpu), "cpu_max": max(cpu),
        "steps": statistics.median(steps), "steps_min": min(steps), "steps_max": max(steps),
        "harness_accuracy": statistics.median(r["accuracy"] for r in runs["harness"]),
        "minimal_accuracy": statistics.median(r["accuracy"] for r in runs["minimal"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framework", choices=("torch", "keras", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="2 epochs, 1 round")
    parser.add_argument("--json", action="store_true", help="one JSON line per framework")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.epochs = 1, 2
    work = Path(tempfile.mkdtemp(prefix="cnnc-train-command-"))
    sys.path.insert(0, str(ROOT / "examples" / "digits"))
    import make_data

    data = make_data.main(work / "digits.npz")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs", flush=True)
    for framework in ("torch", "keras") if args.framework == "both" else (args.framework,):
        r = measure(framework, args, data, work)
        print(json.dumps(r) if args.json else
              f"{framework:6s} whole command: cnnc train {r['harness_s']:.1f} s, minimal {r['minimal_s']:.1f} s, "
              f"ratio {r['whole']:.2f} ({r['whole_min']:.2f}-{r['whole_max']:.2f}), CPU time ratio {r['cpu']:.2f} "
              f"({r['cpu_min']:.2f}-{r['cpu_max']:.2f});  steps: ratio {r['steps']:.2f} "
              f"({r['steps_min']:.2f}-{r['steps_max']:.2f});  test accuracy {r['harness_accuracy']:.4f} vs "
              f"{r['minimal_accuracy']:.4f}  ({r['rounds']} rounds, {r['epochs']} epochs)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
