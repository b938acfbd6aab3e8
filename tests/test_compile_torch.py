"""`cnnc compile --target torch`: the written module works, and writing is all or nothing."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
import torch
from torch_helpers import OWN_SPECS, ROOT

from cnnc import build
from cnnc.cli import main

BROKEN = "network Broken() {\n  input x: 8x8x1\n  x -> conv(4, 9) -> output y\n}\n"


def _compile(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cnnc", "compile", *args], capture_output=True, text=True, env=env)


def _import(path):
    spec = importlib.util.spec_from_file_location("written_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compile_writes_an_importable_module(tmp_path):
    result = _compile(str(OWN_SPECS / "lenet5.cnn"), "--target", "torch", "-o", str(tmp_path / "out"),
                      "--set", "num_classes=4")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {tmp_path / 'out' / 'model.py'}"
    module = _import(tmp_path / "out" / "model.py")
    assert module.INPUTS == {"x": (1, 32, 32)} and module.OUTPUTS == {"y": (4,)}
    assert module.build_model()(torch.randn(3, 1, 32, 32)).shape == (3, 4)
    assert sorted(os.listdir(tmp_path / "out")) == ["model.py"]


def test_a_spec_with_errors_writes_nothing(tmp_path):
    spec = tmp_path / "broken.cnn"
    spec.write_text(BROKEN)
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.py").write_text("old\n")
    result = _compile(str(spec), "--target", "torch", "-o", str(out))
    assert result.returncode == 1 and "error[E0301]" in result.stderr
    assert os.listdir(out) == ["model.py"] and (out / "model.py").read_text() == "old\n"


def test_an_existing_file_is_replaced_whole(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "model.py"
    target.write_text("old contents\n")
    with open(target) as reader:  # a reader of the old file keeps seeing all of it, never a half-written one
        before = os.stat(target).st_ino
        assert main(["compile", str(OWN_SPECS / "residual.cnn"), "--target", "torch", "-o", str(out)]) == 0
        assert reader.read() == "old contents\n"
    assert os.stat(target).st_ino != before
    assert target.read_text().startswith('"""PyTorch model `TinyResNet`')
    assert os.listdir(out) == ["model.py"]


def test_a_failure_while_writing_leaves_the_old_files(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.py").write_text("old\n")
    real = build.generate

    def generate_then_a_bad_file(analysis, options):
        return {**real(analysis, options), "zz_bad\0name.py": "x"}

    monkeypatch.setattr(build, "generate", generate_then_a_bad_file)
    with pytest.raises(ValueError, match="null"):  # the second file cannot be staged; the first was
        main(["compile", str(OWN_SPECS / "lenet5.cnn"), "--target", "torch", "-o", str(out)])
    assert os.listdir(out) == ["model.py"] and (out / "model.py").read_text() == "old\n"
