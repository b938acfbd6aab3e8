"""Front-end benchmark: how long `cnnc summary` takes, as a user runs it and inside Python.

    python bench/frontend.py [--reps 5] [--json]

Measures, each as the median of --reps runs, wall time and CPU time (user + system: what the
work costs, whatever else the machine is doing):
- `python -m cnnc summary SPEC` as a fresh subprocess (interpreter start-up, imports, parse,
  expansion, passes, the table) on ResNet-152 (bench/specs/resnet152.cnn) and on generated
  straight chains of 1,000 and 10,000 layers (written out, one step a line);
- the start-up alone: `python -c pass` and `python -c "import cnnc.cli"`;
- `parse()` in this process (the spec's text to its AST), `analyze()` (parse, expansion and
  passes, without start-up; the first, untimed call pays the one-off grammar load) and
  `summary_table()` after it, on those and on a 50,000-layer chain (49,999 steps after the input).
The product refuses specs of more than 100,000 tokens or 12,000 layers (cnnc/limits.py: every spec
it accepts checks in about a second, issue 18); the 50,000-layer chain measures the parser's growth
past them (issue 17), in process with the limits lifted (`limits.lifted`), so it has no
`cnnc summary` row.
Growth is reported against linear: (time of N layers / time of 1,000) / (N / 1,000), so 1.0
is linear and the goal for parse and analyze is at most 1.2 up to 50,000 layers.
Subprocesses run with the pyc and Lark grammar caches warm (one untimed run first), as on a
user's machine after the first command.  On a machine shared with other work, CPU time is
the number to compare: wall time includes waiting for a core.
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

from cnnc import limits  # noqa: E402
from cnnc.compiler import analyze  # noqa: E402
from cnnc.report import summary_table  # noqa: E402
from cnnc.syntax.parser import parse  # noqa: E402

RESNET152 = ROOT / "bench" / "specs" / "resnet152.cnn"
CHAIN_STEPS = ("conv(16, 3, padding=same, bias=false)", "batchnorm", "relu")
# name -> steps after the input; the last is past the product's limits (lifted for the measurement)
CHAINS = {"chain1000": 1_000, "chain10000": 10_000, "chain50000": 49_999}
LIFTED = {"MAX_TOKENS": 400_000, "MAX_NODES": 50_000}


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


def in_process_seconds(path: Path, reps: int) -> tuple[dict, dict, dict, int]:
    """(parse times, analyze times, summary_table times, layers)."""
    analysis = analyze(path)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    text = path.read_text()
    parsing = median_seconds(lambda: parse(text, str(path)), reps)
    analyse = median_seconds(lambda: analyze(path), reps)
    table = median_seconds(lambda: summary_table(analysis), reps)
    return parsing, analyse, table, len(analysis.graph)


KEYS = ("cnnc_summary", "parse", "analyze", "summary_table")


def growth(specs: dict, name: str) -> dict[str, float]:
    """Time per layer of `name` over time per layer of the 1,000-layer chain: 1.0 is linear."""
    big, small = specs[name], specs["chain1000"]
    scale = big["layers"] / small["layers"]
    return {
        f"{key} {clock}": big[key][clock] / small[key][clock] / scale
        for key in KEYS
        if key in big
        for clock in ("wall_s", "cpu_s")
    }


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
        for name, steps in CHAINS.items():
            path = Path(folder) / f"{name}.cnn"
            path.write_text(chain_spec(steps))
            specs[name] = path
        for name, path in specs.items():
            with limits.lifted(**LIFTED):
                parsing, analyse, table, nodes = in_process_seconds(path, reps)
            results["specs"][name] = {
                "layers": nodes,
                "parse": parsing,
                "analyze": analyse,
                "summary_table": table,
            }
            if nodes <= limits.MAX_NODES:  # a user's command: the product's limits hold
                results["specs"][name]["cnnc_summary"] = subprocess_seconds(["-m", "cnnc", "summary", str(path)], reps)
    results["growth_over_linear"] = {name: growth(results["specs"], name) for name in ("chain10000", "chain50000")}
    return results


def _both(times: dict[str, float]) -> str:
    return f"{times['wall_s']:7.3f} / {times['cpu_s']:.3f}"


def report(results: dict) -> str:
    startup, imports = results["startup_python"], results["startup_import_cnnc"]
    lines = [
        f"python {results['python']}, median of {results['reps']} runs; seconds, wall / CPU",
        f"start-up: `python -c pass` {_both(startup)}, `python -c 'import cnnc.cli'` {_both(imports)}",
        "",
        f"{'spec':<11} {'layers':>7} {'cnnc summary':>17} {'parse()':>17} {'analyze()':>17} {'summary_table()':>17}",
    ]
    for name, row in results["specs"].items():
        cells = "".join(f"{_both(row[key]) if key in row else 'over the limits':>18}" for key in KEYS)
        lines.append(f"{name:<11} {row['layers']:>7,}{cells}")
    lines += ["", "growth per layer against chain1000 (1.0 = linear), CPU:"]
    for name, ratios in results["growth_over_linear"].items():
        shown = [key for key in KEYS if key + " cpu_s" in ratios]
        lines.append(f"  {name}: " + ", ".join(f"{key} {ratios[key + ' cpu_s']:.2f}" for key in shown))
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
