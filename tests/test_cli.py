"""The command line: exit codes, output formats, and no framework import."""

from __future__ import annotations

import json
import subprocess
import sys

from cnnc.cli import main

WORKED = """network Worked() {
  input x: 39x39x3
  x -> conv(10, 3) -> conv(20, 5, stride=2) -> conv(40, 5, stride=2) -> flatten -> output y
}
"""


def test_check_clean_exits_0(spec_file, capsys):
    assert main(["check", str(spec_file(WORKED))]) == 0
    assert "ok: Worked: 5 layers, 25,340 params" in capsys.readouterr().out


def test_check_with_errors_exits_1_and_renders(spec_file, capsys):
    path = spec_file("network N() {\n  input x: 8x8x1\n  x -> conv(4, 9) -> output y\n}\n")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "error[E0301]: kernel 9 does not fit the padded input 8 on axis 0" in err
    assert f"--> {path}:3:8" in err
    assert "3 |   x -> conv(4, 9) -> output y" in err
    assert "  |        ^^^^^^^^^^" in err
    assert "1 error emitted" in err


def test_unreadable_file_exits_2(tmp_path, capsys):
    assert main(["check", str(tmp_path / "missing.cnn")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_not_utf8_exits_2(tmp_path, capsys):
    path = tmp_path / "bin.cnn"
    path.write_bytes(b"\xff\xfe\x00network")
    assert main(["check", str(path)]) == 2


def test_bad_usage_exits_2(spec_file, capsys):
    assert main(["check"]) == 2
    assert main(["summary", str(spec_file(WORKED)), "--set", "nonsense"]) == 2
    assert main(["summary", str(spec_file(WORKED)), "--input", "12xAx3"]) == 2
    assert main(["frobnicate"]) == 2


def test_summary_table_matches_the_course(spec_file, capsys):
    assert main(["summary", str(spec_file(WORKED))]) == 0
    out = capsys.readouterr().out
    for row in ("37x37x10", "17x17x20", "7x7x40", "1960", "280", "5,020", "20,040"):
        assert row in out
    assert "params:      25,340 (25,340 trainable, 0 non-trainable)" in out


def test_summary_json_schema(spec_file, capsys):
    assert main(["summary", str(spec_file(WORKED)), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["network"] == "Worked"
    assert (data["params"], data["trainable_params"], data["non_trainable_params"]) == (25340, 25340, 0)
    assert data["flops"] == 2 * data["macs"]
    assert data["inputs"] == {"x": [39, 39, 3]} and data["outputs"] == {"y": [1960]}
    conv = data["layers"][1]
    assert conv == {
        **conv,
        "name": "conv1",
        "op": "conv",
        "line": 3,
        "output_shape": [37, 37, 10],
        "params": 280,
        "macs": 3 * 3 * 3 * 10 * 37 * 37,
        "activation_size": 13690,
    }


def test_summary_set_and_input(spec_file, capsys):
    path = spec_file("network F(c: int = 2) {\n  input x: 32x32x3\n  x -> conv(c, 3, padding=same) -> output y\n}\n")
    assert main(["summary", str(path), "--json", "--set", "c=5", "--input", "64x48x3"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"] == {"y": [64, 48, 5]}


def test_check_and_summary_import_no_framework(spec_file):
    path = spec_file(WORKED)
    code = (
        "import sys\nfrom cnnc.cli import main\n"
        f"main(['check', {str(path)!r}]); main(['summary', {str(path)!r}, '--json'])\n"
        "heavy = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_module_entry_point(spec_file):
    result = subprocess.run(
        [sys.executable, "-m", "cnnc", "check", str(spec_file(WORKED))], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.startswith("ok: Worked")


def test_readme_shows_the_real_lenet_summary(capsys):
    from conftest import ROOT

    assert main(["summary", str(ROOT / "specs" / "lenet5.cnn")]) == 0
    out = capsys.readouterr().out
    readme = (ROOT / "README.md").read_text()
    assert out in readme, "refresh the summary shown in README.md"


def test_a_verb_imports_only_its_own_module(spec_file):
    # The verb table is read lazily: `check` loads neither the other verbs nor what they need.
    code = (
        "import sys\nfrom cnnc.cli import main\n"
        f"assert main(['check', {str(spec_file(WORKED))!r}]) == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith(('cnnc.cli', 'cnnc.build', 'cnnc.tasks',"
        " 'cnnc.backends', 'cnnc.weights', 'cnnc.report'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "['cnnc.cli', 'cnnc.cli.check', 'cnnc.cli.common']"


def test_help_lists_every_verb(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "{check,summary,compile,convert-weights,train}" in out
    assert "convert saved weights between the PyTorch and Keras" in out
