import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The suite runs PyTorch and TensorFlow in one process. torch 2.14's CUDA build (the one that has a matching
# torchvision) brings triton, and importing triton after TensorFlow is loaded segfaults (seen with
# TensorFlow 2.21 and triton 3.8; the reverse order works). torch imports triton lazily, with torch._dynamo
# (torch.compile, and some decompositions), so load that first, before any test can import TensorFlow.
try:
    import torch._dynamo  # noqa: F401
except ImportError:  # the front end's tests run without torch
    pass


@pytest.fixture
def spec_file(tmp_path):
    """Write spec text to a file and return its path."""

    def write(text: str, name: str = "spec.cnn") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
