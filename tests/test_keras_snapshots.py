"""Golden files of generated Keras source: lenet5, resnet50, unet and inception_v3 from the spec library.

Refresh them with CNNC_UPDATE_SNAPSHOTS=1 (the flag of the PyTorch snapshots) after an intended
change, and review the diff: drift in a block function, a layer name or a comment fails here readably.
"""

from __future__ import annotations

import difflib
import os

import pytest
from differential import ROOT

from cnnc.backends import keras as keras_backend
from cnnc.compiler import analyze

SNAPSHOTS = ROOT / "tests" / "snapshots" / "keras"


@pytest.mark.parametrize("name", ["lenet5", "resnet50", "unet", "inception_v3"])
def test_generated_keras_source_snapshot(name):
    analysis = analyze(ROOT / "specs" / f"{name}.cnn")
    assert analysis.ok, analysis.diagnostics
    source = keras_backend.generate(analysis)["model.py"]
    golden = SNAPSHOTS / f"{name}.py"
    if os.environ.get("CNNC_UPDATE_SNAPSHOTS") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(source)
    assert golden.exists(), f"no snapshot {golden}: run with CNNC_UPDATE_SNAPSHOTS=1"
    expected = golden.read_text()
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(True),
            source.splitlines(True),
            f"{golden.name} (snapshot)",
            f"{golden.name} (generated)",
        )
    )
    assert source == expected, "generated source drifted from the snapshot:\n" + diff
