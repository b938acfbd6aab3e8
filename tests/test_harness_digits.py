"""The digits example: LeNet-5 on scikit-learn's handwritten digits, both frameworks, >= 95% test accuracy."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from harness_util import ROOT, example_module

pytestmark = pytest.mark.slow
EXAMPLE = ROOT / "examples" / "digits"
# The options of examples/digits/README.md.
OPTIONS = ["--epochs", "20", "--optimizer", "adam", "--lr", "0.002", "--schedule", "cosine",
           "--normalize", "standardize", "--threads", "1", "--progress", "none"]


@pytest.mark.parametrize("target", ["torch", "keras"])
def test_lenet5_learns_the_digits(tmp_path, target):
    make_data = example_module("digits")

    data = make_data.main(tmp_path / "digits.npz")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cnnc", "train", str(EXAMPLE / "lenet5.cnn"), "--target", target,
                           "--data", str(data), "--build", str(tmp_path / "build"), *OPTIONS],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stdout
    result = json.loads((tmp_path / "build" / "run" / "metrics.json").read_text())
    assert result["examples"] == 359
    assert result["acc"] >= 0.95, result["acc"]
    assert seconds < 180, seconds
