"""The front end stays framework-free, and the benchmark's inputs are what they claim to be."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from cnnc.compiler import analyze

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("torch", "tensorflow", "keras", "tf_keras", "jax", "flax")


def _bench():
    spec = importlib.util.spec_from_file_location("frontend_bench", ROOT / "bench" / "frontend.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_python_m_cnnc_check_and_summary_import_no_framework(tmp_path):
    """`python -m cnnc check|summary [--json]`, run as the command line runs them, on clean specs
    and on one with errors, leave every deep-learning framework unimported."""
    broken = tmp_path / "broken.cnn"
    broken.write_text("network B() {\n  input x: 7x7x3\n  x -> conv(8, 9) -> dense(3) -> output y\n}\n")
    specs = [ROOT / "bench" / "specs" / "resnet152.cnn", ROOT / "specs" / "efficientnet.cnn",
             ROOT / "specs" / "unet.cnn", ROOT / "specs" / "siamese.cnn", broken]
    code = f"""
import runpy, sys
codes, specs = [], sys.argv[1:]
for verb in (["check"], ["summary"], ["summary", "--json"]):
    for spec in specs:
        sys.argv = ["cnnc", *verb, spec]
        try:
            runpy.run_module("cnnc", run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            codes.append(exc.code)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {FRAMEWORKS!r})
print("EXIT", codes, "FRAMEWORKS", heavy, file=sys.stderr)
"""
    result = subprocess.run([sys.executable, "-c", code, *map(str, specs)], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == "EXIT [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1] FRAMEWORKS []", result.stderr[-2000:]


def test_benchmark_resnet152_is_torchvisions():
    analysis = analyze(ROOT / "bench" / "specs" / "resnet152.cnn")
    assert analysis.ok
    assert analysis.cost.params.trainable == 60_192_808  # torchvision.models.resnet152
    assert analysis.cost.params.non_trainable == 151_424  # batch-norm running statistics
    assert analysis.cost.macs == 11_513_626_624
    assert len(analysis.graph) == 515


def test_benchmark_chains_have_the_stated_length(tmp_path):
    bench = _bench()
    path = tmp_path / "chain.cnn"
    path.write_text(bench.chain_spec(1000))
    analysis = analyze(path)
    assert analysis.ok
    assert len(analysis.graph) == 1001  # the input and 1,000 layers
    ops = [node.op.name for node in analysis.graph.topological()]
    assert ops[:4] == ["input", "conv", "batchnorm", "relu"] and ops[-1] == "conv"


def test_the_largest_chain_is_measured_past_the_product_limits_and_refused_without_lifting(tmp_path):
    """The 50,000-layer chain is over the product's limits: refused as a user's spec (E0601), and
    analysed in full under `limits.lifted` with the bench's values, which then are restored."""
    from cnnc import limits

    bench = _bench()
    assert [bench.CHAINS[f"chain{n}"] for n in (1000, 10000, 50000)] == [1000, 10000, 49_999]
    path = tmp_path / "chain.cnn"
    path.write_text(bench.chain_spec(bench.CHAINS["chain50000"]))
    refused = analyze(path)
    assert [d.code for d in refused.diagnostics] == ["E0601"]
    before = (limits.MAX_TOKENS, limits.MAX_NODES)
    with limits.lifted(**bench.LIFTED):
        analysis = analyze(path)
    assert analysis.ok and len(analysis.graph) == 50_000
    assert (limits.MAX_TOKENS, limits.MAX_NODES) == before == (100_000, 12_000)
