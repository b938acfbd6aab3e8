"""Front-end benchmark: how long `cnnc summary` takes, as a user runs it and inside Python.

    python bench/frontend.py [--reps 5] [--json]

Measures, each as the median of --reps runs, wall time and CPU time (user + system: what the
work costs, whatever else the machine is doing):
- `python -m cnnc summary SPEC` as a fresh subprocess (interpreter start-up, imports, parse,
  expansion, passes, the table) on ResNet-152 (bench/specs/resnet152.cnn) and on generated
  straight chains of 1,000 and 10,000 layers;
- the start-up alone: `python -c pass` and `python -c "import cnnc.cli"`;
- `analyze()` in this process (parse, expansion and passes, without start-up; the first,
  untimed call pays the one-off grammar load) and `summary_table()` after it.
The growth ratio 10k/1k of the in-process analysis is about 10 when analysis is linear in
the number of layers.  Subprocesses run with the pyc and Lark grammar caches warm (one
untimed run first), as on a user's machine after the first command.
"""

from __future__ import annotations

import argparse
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
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cnnc.compiler import analyze  # noqa: E402
from cnnc.report import summary_table  # noqa: E402

RESNET152 = ROOT / "bench" / "specs" / "resnet152.cnn"
CHAIN_STEPS = ("conv(16, 3, padding=same, bias=false)", "batchnorm", "relu")


def chain_spec(layers: int) -> str:
    """A straight chain of `layers` layers after the input (conv, batchnorm, relu, ...), one per line."""
    steps = [CHAIN_STEPS[i % len(CHAIN_STEPS)] for i in range(layers)]
    body = "\n    -> ".join(steps)
    return f"network Chain{layers}() {{\n  input x: 32x32x16\n  x -> {body}\n    -> output y\n}}\n"


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def median_seconds(run, reps: int, who: int = resource.RUSAGE_SELF) -> dict[str, float]:
    """Median wall and CPU seconds of `run()`; CPU of this process, or of its children."""
    wall, cpu = [], []
    for _ in range(reps):
        start, start_cpu = time.perf_counter(), _cpu(who)
        run()
        wall.append(time.perf_counter() - start)
        cpu.append(_cpu(who) - start_cpu)
    return {"wall_s": statistics.median(wall), "cpu_s": statistics.median(cpu)}


def subprocess_seconds(args: list[str], reps: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def run() -> None:
        result = subprocess.run([sys.executable, *args], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {result.stderr}")

    run()  # warm the pyc and grammar caches
    return median_seconds(run, reps, resource.RUSAGE_CHILDREN)


def in_process_seconds(path: Path, reps: int) -> tuple[dict, dict, int]:
    """(analyze times, summary_table times, layers)."""
    analysis = analyze(path)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    analyse = median_seconds(lambda: analyze(path), reps)
    table = median_seconds(lambda: summary_table(analysis), reps)
    return analyse, table, len(analysis.graph)


def measure(reps: int) -> dict:
    analyze(RESNET152)  # the one-off grammar load, out of the in-process timings
    results: dict = {
        "python": sys.version.split()[0], "reps": reps,
        "startup_python": subprocess_seconds(["-c", "pass"], reps),
        "startup_import_cnnc": subprocess_seconds(["-c", "import cnnc.cli"], reps),
        "specs": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        specs = {"resnet152": RESNET152}
        for layers in (1000, 10000):
            path = Path(folder) / f"chain{layers}.cnn"
            path.write_text(chain_spec(layers))
            specs[f"chain{layers}"] = path
        for name, path in specs.items():
            analyse, table, nodes = in_process_seconds(path, reps)
            results["specs"][name] = {
                "layers": nodes,
                "cnnc_summary": subprocess_seconds(["-m", "cnnc", "summary", str(path)], reps),
                "analyze": analyse,
                "summary_table": table,
            }
    chains = results["specs"]
    results["growth_10k_over_1k"] = {
        f"{key} {clock}": chains["chain10000"][key][clock] / chains["chain1000"][key][clock]
        for key in ("cnnc_summary", "analyze", "summary_table") for clock in ("wall_s", "cpu_s")
    }
    return results


def _both(times: dict[str, float]) -> str:
    return f"{times['wall_s']:7.3f} / {times['cpu_s']:.3f}"


def report(results: dict) -> str:
    startup, imports = results["startup_python"], results["startup_import_cnnc"]
    lines = [
        f"python {results['python']}, median of {results['reps']} runs; seconds, wall / CPU",
        f"start-up: `python -c pass` {_both(startup)}, `python -c 'import cnnc.cli'` {_both(imports)}",
        "",
        f"{'spec':<11} {'layers':>7} {'cnnc summary':>17} {'analyze()':>17} {'summary_table()':>17}",
    ]
    for name, row in results["specs"].items():
        cells = "".join(f"{_both(row[key]):>18}" for key in ("cnnc_summary", "analyze", "summary_table"))
        lines.append(f"{name:<11} {row['layers']:>7,}{cells}")
    growth = results["growth_10k_over_1k"]
    lines += ["", "growth 10k/1k (linear = 10): " + ", ".join(f"{k} {v:.1f}" for k, v in growth.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="runs per measurement (the median is reported)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    results = measure(args.reps)
    print(json.dumps(results, indent=1) if args.json else report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
