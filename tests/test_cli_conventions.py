"""What a person expects of a command line: --version, help everywhere, quiet pipes, honest errors, modes."""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cnnc import __version__
from cnnc.cli import VERBS, build_parser, main
from cnnc.compiler import analyze
from cnnc.diagnostics import render_all, use_color

ROOT = Path(__file__).resolve().parent.parent
SPEC = "network Tiny() {\n  input x: 8x8x1\n  x -> conv(4, 3) -> relu -> flatten -> dense(2) -> output y\n}\n"


def cnnc(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **kw.pop("env", {})}
    return subprocess.run([sys.executable, "-m", "cnnc", *args], capture_output=True, text=True, env=env, **kw)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"cnnc {__version__}\n"


def test_bare_cnnc_prints_the_help_and_exits_2(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: cnnc [-h] [--version]")
    for verb, (_, summary) in VERBS.items():
        assert f"\n    {verb}" in out and " ".join(summary.split()[:3]) in out


def _options(verb: str) -> list[argparse.Action]:
    sub = next(a for a in build_parser(verb)._actions if isinstance(a, argparse._SubParsersAction))
    return [a for a in sub.choices[verb]._actions if a.option_strings and a.dest != "help"]


@pytest.mark.parametrize("verb", list(VERBS))
def test_every_option_has_help_with_its_default(verb):
    sub = next(a for a in build_parser(verb)._actions if isinstance(a, argparse._SubParsersAction))
    text = sub.choices[verb].format_help()
    for action in _options(verb):
        assert action.help, f"{verb} {action.option_strings[0]} has no help"
        shown = sub.choices[verb]._get_formatter()._get_help_string(action)
        if action.default not in (None, False, [], argparse.SUPPRESS):
            assert "default" in shown, f"{verb} {action.option_strings[0]}: {shown!r}"
        if action.choices:  # listed in the help, by the metavar argparse makes from them
            assert "{" + ",".join(map(str, action.choices)) + "}" in text.replace("\n", "")


def test_train_help_states_task_defaults_and_choices():
    sub = next(a for a in build_parser("train")._actions if isinstance(a, argparse._SubParsersAction))
    text = " ".join(sub.choices["train"].format_help().split())
    assert "--epochs EPOCHS epochs to train (in all, counting resumed ones) (default: 10)" in text
    assert "--optimizer {sgd,adam,rmsprop,adagrad,adadelta,lbfgs} the update rule (default: sgd; style: adam)" in text
    assert "(default: val_loss; detect: val_map50)" in text
    assert "--target {keras,onnx,torch} what to write: torch (a PyTorch nn.Module" in text
    tasks = "{classify,detect,landmarks,localize,segment,style,verify,visualize}"
    assert f"--task {tasks} the task (default: classify)" in text


def test_compile_help_lists_targets_and_tasks():
    sub = next(a for a in build_parser("compile")._actions if isinstance(a, argparse._SubParsersAction))
    text = " ".join(sub.choices["compile"].format_help().split())
    assert "--target {keras,onnx,torch} what to write" in text
    assert "--task {classify,detect,landmarks,localize,segment,style,verify,visualize}" in text
    assert "-o DIR, --output DIR output folder (default: build)" in text


def test_broken_pipe_ends_quietly(tmp_path):
    spec = tmp_path / "tiny.cnn"
    spec.write_text(SPEC)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # `head -1` closes the pipe after one line; the rest of the table hits a closed pipe.
    script = f'set -o pipefail; "{sys.executable}" -m cnnc summary "{spec}" | head -1'
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    assert result.stdout == "network Tiny\n"
    assert result.stderr == ""  # no traceback, no "Exception ignored"
    assert result.returncode in (0, 141)  # 141: the pipe closed before cnnc finished writing


def test_broken_pipe_status_is_141(tmp_path):
    spec = tmp_path / "tiny.cnn"
    spec.write_text(SPEC)
    process = subprocess.Popen(
        [sys.executable, "-m", "cnnc", "summary", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    process.stdout.close()  # the reader is gone before the first line
    assert process.wait() == 141
    assert process.stderr.read() == b""


def test_a_write_that_fails_says_cannot_write(spec_file, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "model.py").mkdir(parents=True)  # a folder where model.py must go
    assert main(["compile", str(spec_file(SPEC)), "--target", "torch", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"cnnc: error: cannot write {out / 'model.py'}: a directory of that name is in the way\n"
    assert [p.name for p in out.iterdir()] == ["model.py"]  # no temp file left behind


def test_an_output_folder_under_a_file_says_cannot_write(spec_file, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["compile", str(spec_file(SPEC)), "--target", "torch", "-o", str(blocker / "out")]) == 2
    assert capsys.readouterr().err.startswith(f"cnnc: error: cannot write {blocker / 'out'}: ")


def test_a_read_that_fails_still_says_cannot_read(tmp_path, capsys):
    assert main(["check", str(tmp_path / "missing.cnn")]) == 2
    assert (
        capsys.readouterr().err == f"cnnc: error: cannot read {tmp_path / 'missing.cnn'}: No such file or directory\n"
    )


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_generated_files_get_normal_permissions(spec_file, tmp_path, umask_022):
    out = tmp_path / "out"
    assert main(["compile", str(spec_file(SPEC)), "--target", "torch", "--task", "classify", "-o", str(out)]) == 0
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and {p.name for p in files} >= {"model.py", "train.py"}
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {"0o644"}
    folders = [out, *(p for p in out.rglob("*") if p.is_dir())]  # the output folder was the staging folder
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in folders} == {"0o755"}


def test_checkpoints_get_normal_permissions(tmp_path, umask_022):
    from cnnc.tasks.runtime.loop import atomic_path, write_text

    write_text(tmp_path / "metrics.json", "{}\n")
    with atomic_path(tmp_path / "last.pt") as tmp:
        tmp.write_bytes(b"checkpoint")  # as torch.save into the temp path does
    for name in ("metrics.json", "last.pt"):
        assert oct(stat.S_IMODE((tmp_path / name).stat().st_mode)) == "0o644", name


def test_permissions_follow_the_umask(spec_file, tmp_path):
    previous = os.umask(0o077)
    try:
        assert main(["compile", str(spec_file(SPEC)), "--target", "torch", "-o", str(tmp_path / "out")]) == 0
    finally:
        os.umask(previous)
    assert oct(stat.S_IMODE((tmp_path / "out" / "model.py").stat().st_mode)) == "0o600"


class _Terminal:
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch, spec_file):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(_Terminal()) and not use_color(open(os.devnull, "w"))
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(_Terminal())
    analysis = analyze(spec_file(SPEC.replace("x -> conv", "hh -> conv")))
    plain, coloured = (
        render_all(analysis.diagnostics, analysis.sources),
        render_all(analysis.diagnostics, analysis.sources, color=True),
    )
    assert "\x1b[" not in plain and "\x1b[1;31merror[E0102]\x1b[0m" in coloured
    assert _strip_ansi(coloured) == plain


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_json_output_is_plain_on_a_terminal(tmp_path):
    spec = tmp_path / "tiny.cnn"
    spec.write_text(SPEC)
    result = cnnc("summary", str(spec), "--json")
    assert result.returncode == 0 and "\x1b[" not in result.stdout and result.stdout.startswith("{")
