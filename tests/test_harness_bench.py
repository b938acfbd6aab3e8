"""bench/train_throughput.py runs and reports both sides (the ratio itself is measured, not asserted: the
machine's load decides it)."""

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
