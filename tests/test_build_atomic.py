"""A compile's folder is written whole or left as it was (issue 18): no half-written folder, no temp files."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from cnnc import build
from cnnc.cli import main
from cnnc.errors import UsageError

SPEC = (
    "network N(num_classes: int = 3) {\n  input x: 8x8x3\n"
    "  x -> flatten -> dense(num_classes) -> softmax -> output y\n}\n"
)


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` (hidden ones too), with a file's bytes (None for a folder)."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes()) for p in sorted(folder.rglob("*"))}


def _compile(spec: Path, out: Path, *extra: str) -> tuple[int, str]:
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = main(["compile", str(spec), "--target", "torch", "--task", "classify", "-o", str(out), *extra])
    return code, err.getvalue()


@pytest.fixture
def compiled(tmp_path) -> tuple[Path, Path]:
    spec = tmp_path / "n.cnn"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    code, err = _compile(spec, out)
    assert code == 0, err
    (out / "data.npz").write_bytes(b"the user's own file")
    return spec, out


def test_a_directory_named_train_py_leaves_the_folder_byte_identical(compiled):
    spec, out = compiled
    (out / "train.py").unlink()
    (out / "train.py").mkdir()
    (out / "train.py" / "inside.txt").write_text("keep me")
    spec.write_text(SPEC.replace("dense(num_classes)", "dense(num_classes) -> dense(num_classes)"))
    before = _snapshot(out.parent)
    code, err = _compile(spec, out)
    assert code == 2
    assert err.strip() == f"cnnc: error: cannot write {out / 'train.py'}: a directory of that name is in the way"
    assert _snapshot(out.parent) == before  # byte-identical, and no staging folder beside it


def test_a_directory_named_model_py_leaves_the_folder_byte_identical(compiled):
    spec, out = compiled
    (out / "model.py").unlink()
    (out / "model.py").mkdir()
    before = _snapshot(out.parent)
    code, err = _compile(spec, out)
    assert code == 2 and "model.py: a directory of that name is in the way" in err
    assert _snapshot(out.parent) == before


def test_a_failure_in_the_middle_of_the_swap_restores_every_previous_file(compiled, monkeypatch):
    spec, out = compiled
    before = _snapshot(out.parent)
    files = {"model.py": "new model\n", "train.py": "new train\n", "runtime/extra/new.py": "x = 1\n"}
    real_replace, calls = os.replace, []

    def failing_replace(src, dst):
        calls.append(dst)
        if Path(dst) == out / "train.py" and calls.count(dst) == 1:  # model.py and a new folder are in place
            raise PermissionError(13, "Permission denied", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(build.os, "replace", failing_replace)
    with pytest.raises(UsageError, match=f"cannot write {out / 'train.py'}: Permission denied"):
        build.write_atomically(files, out)
    assert out / "model.py" in map(Path, calls)
    assert _snapshot(out.parent) == before


def test_a_failure_while_staging_leaves_no_temp_files(tmp_path, monkeypatch):
    out = tmp_path / "fresh"

    def full_disk(path, text):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(build, "_write", full_disk)
    with pytest.raises(UsageError, match=f"cannot write {out / 'a.py'}: No space left on device"):
        build.write_atomically({"a.py": "x\n"}, out)
    assert list(tmp_path.iterdir()) == []


def test_a_successful_compile_replaces_files_and_keeps_the_users_own(compiled):
    spec, out = compiled
    spec.write_text(SPEC.replace("num_classes: int = 3", "num_classes: int = 5"))
    code, err = _compile(spec, out)
    assert code == 0, err
    assert "num_classes: int = 5" in (out / "model.py").read_text()
    assert (out / "data.npz").read_bytes() == b"the user's own file"
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []
    assert [p for p in out.rglob("*") if p.name.startswith(".")] == []


def test_a_file_where_a_folder_goes_is_refused_before_writing(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "runtime").write_text("not a folder")
    before = _snapshot(tmp_path)
    with pytest.raises(UsageError, match="runtime is a file, not a folder"):
        build.write_atomically({"runtime/loop.py": "x\n", "model.py": "y\n"}, tmp_path / "out")
    assert _snapshot(tmp_path) == before
