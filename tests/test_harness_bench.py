"""The bench scripts run and report both sides, in their reduced modes, so they cannot rot: train_throughput.py,
models.py (every generated/reference pair, outputs equal on the same weights), train_command.py (`cnnc train` vs
the hand-written loop).  The ratios themselves are measured, not asserted: the machine's load decides them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from harness_util import ROOT

pytestmark = pytest.mark.slow


def test_throughput_bench_reports_harness_and_minimal_loop():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "train_throughput.py"), "--framework", "torch",
                           "--epochs", "3", "--json"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["framework"] == "torch" and result["images"] == 1259
    assert len(result["harness_epochs"]) == len(result["minimal_epochs"]) == 3
    assert result["harness"] > 0 and result["minimal"] > 0 and result["ratio"] > 0


def _run_bench(*args: str, timeout: int) -> str:
    proc = subprocess.run([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout


def test_models_bench_runs_every_pair_with_equal_outputs():
    """bench/models.py --quick: every generated/reference pair builds, loads the reference's weights, agrees
    with it (the script stops otherwise) and is timed; torch.compile is timed on the smallest pair."""
    sys.path.insert(0, str(ROOT / "bench"))
    from models import PAIRS

    out = _run_bench(str(ROOT / "bench" / "models.py"), "--quick", "--compile", "resnet18", timeout=1200)
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()}
    for pair in PAIRS:
        assert pair.name in rows, f"no row for {pair.name}:\n{out}"
        ratio, difference = float(rows[pair.name][4]), float(rows[pair.name][-1])
        assert ratio > 0 and difference <= 1e-4
    assert "torch.compile(fullgraph=True) resnet18: generated" in out


def test_train_command_bench_runs_cnnc_train_and_the_minimal_loop():
    out = _run_bench(str(ROOT / "bench" / "train_command.py"), "--quick", "--json", timeout=900)
    results = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["framework"] for r in results] == ["torch", "keras"]
    for r in results:
        assert r["harness_s"] > 0 and r["minimal_s"] > 0 and r["whole"] > 0 and r["steps"] > 0
        assert r["harness_accuracy"] > 0.5 and r["minimal_accuracy"] > 0.5  # two epochs already learn the digits
