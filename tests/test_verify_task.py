"""The verify task, quick: its plan and diagnostics, and what `cnnc compile --task verify` writes."""

from __future__ import annotations

import pytest
from conftest import SPECS

from cnnc.cli import main
from cnnc.compiler import analyze
from cnnc.diagnostics import CnncError
from cnnc.tasks.verify import plan
from cnnc.tasks.verify.runtime.common import VerifyHead

EMBEDDING = """network Emb(dim: int = 16) {
  input x: 16x16x1
  x -> conv(8, 3, padding=same) -> relu -> maxpool(2) -> flatten -> dense(dim) as embedding
    -> output f
}
"""
UNSHARED = """network Two() {
  input a: 16x16x1
  input b: 16x16x1
  a -> flatten -> dense(8) -> output fa
  b -> flatten -> dense(8) -> output fb
}
"""


def _plan(spec_file, text):
    return plan.plan(analyze(spec_file(text)).graph)


def _diagnostic(spec_file, text):
    with pytest.raises(CnncError) as caught:
        _plan(spec_file, text)
    (diag,) = caught.value.diagnostics
    return diag


def test_plan_reads_an_embedding_network(spec_file):
    assert _plan(spec_file, EMBEDDING) == VerifyHead(inputs=("x",), output="f", dim=16, siamese=False)


def test_plan_reads_the_siamese_spec_with_shared_weights():
    head = plan.plan(analyze(SPECS / "siamese.cnn").graph)
    assert head == VerifyHead(inputs=("anchor", "other"), output="anchor_embedding", dim=128, siamese=True)


def test_two_branches_without_shared_weights_are_refused_at_the_second_output(spec_file):
    diag = _diagnostic(spec_file, UNSHARED)
    assert diag.code == "E0764"
    assert diag.message == "a siamese network's two outputs must be one embedding with shared weights"
    assert diag.notes == ["`fa` and `fb` are computed by different weights"]
    assert diag.span.line == 5


def test_an_image_output_is_not_an_embedding(spec_file):
    diag = _diagnostic(spec_file, EMBEDDING.replace("-> flatten -> dense(dim) as embedding\n", "\n"))
    assert diag.code == "E0763"
    assert diag.message == "task `verify` needs an embedding vector, output `f` is 8x8x8"
    assert (diag.span.line, diag.span.column) == (4, 8)  # `output f`


def test_a_second_output_for_one_input_is_refused(spec_file):
    diag = _diagnostic(spec_file, EMBEDDING.replace("-> output f", "-> output f\n  x -> flatten -> output g"))
    assert diag.code == "E0762"
    assert diag.message == "task `verify` needs 1 embedding output(s) for 1 input(s), the network has 2"


def test_a_signal_input_is_not_an_image(spec_file):
    text = "network Sig() {\n  input s: 140x1\n  s -> flatten -> dense(8) -> output f\n}\n"
    diag = _diagnostic(spec_file, text)
    assert diag.code == "E0761" and diag.notes == ["the network's inputs: s 140x1"]


def test_compile_prints_the_diagnostic_with_a_caret(spec_file, tmp_path, capsys):
    path = spec_file(UNSHARED)
    assert main(["compile", str(path), "--target", "torch", "--task", "verify", "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "error[E0764]: a siamese network's two outputs must be one embedding with shared weights" in err
    assert "  b -> flatten -> dense(8) -> output fb\n" in err and "^" in err


@pytest.mark.parametrize("target", ["torch", "keras"])
def test_the_siamese_spec_compiles_with_task_verify(tmp_path, target):
    out = tmp_path / target
    assert main(["compile", str(SPECS / "siamese.cnn"), "--target", target, "--task", "verify", "-o", str(out)]) == 0
    runtime = {p.name for p in (out / "cnnc_tasks" / "verify" / "runtime").iterdir()}
    neutral = {
        "__init__.py",
        "common.py",
        "evaluate.py",
        "identities.py",
        "losses.py",
        "mining.py",
        "plots.py",
        "sampling.py",
        "use.py",
    }
    assert runtime == neutral | {f"{target}.py"}  # the other framework's file stays out
    assert {"train.py", "verify.py", "recognize.py", "model.py"} <= {p.name for p in out.iterdir()}
    train = (out / "train.py").read_text()
    assert 'HEAD = VerifyHead(inputs=("anchor", "other"), output="anchor_embedding", dim=128, siamese=True)' in train
    assert "task.triplet_loss(" in train and "task.pair_loss(" in train
