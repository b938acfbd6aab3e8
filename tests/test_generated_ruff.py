"""Every generated Python file is `ruff check` and `ruff format --check` clean as emitted.

cnnc never runs ruff itself (it is not a runtime dependency): the one code writer,
`cnnc.backends.pysource`, lays the source out as ruff's formatter would.  This test
holds it to that over the whole spec library, both targets, model.py alone and with
the classify harness's train.py, the localize harness's train.py for a linear and a sigmoid head, the verify
harness's train.py, verify.py and recognize.py for a siamese and an embedding network, the style
harness's train.py for both VGG-19 specs and the visualize harness's visualize.py for LeNet-5, plus
each backend's own op specs.  Everything is
generated in-process into one folder and ruff runs once per command over it, with the
project's settings (line length 120).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cnnc.build import CompileOptions, generate
from cnnc.compiler import analyze
from cnnc.diagnostics import CnncError

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = sorted((ROOT / "specs").glob("*.cnn"))
OWN = {
    "torch": sorted((ROOT / "tests" / "specs_torch").glob("*.cnn")),
    "keras": sorted((ROOT / "tests" / "specs_keras").glob("*.cnn")),
}
LOCALIZER = (ROOT / "examples" / "localize" / "localizer.cnn").read_text(encoding="utf-8")
# Library specs that are not classifiers: an image output (edges, unet, yolo) or two inputs (siamese).
NOT_CLASSIFIERS = {"edges": "E0702", "siamese": "E0701", "unet": "E0702", "yolo": "E0702"}


def _write(out: Path, files: dict[str, str]) -> None:
    out.mkdir(parents=True)
    for name in ("model.py", "train.py", "verify.py", "recognize.py", "visualize.py"):
        if name in files:
            (out / name).write_text(files[name], encoding="utf-8")


def _compile_all(out: Path) -> dict[str, set[str]]:
    """Writes every compile into `out`; returns the classify diagnostic codes of the specs the plan rejected."""
    rejected: dict[str, set[str]] = {}
    for path in LIBRARY:
        analysis = analyze(path)
        assert analysis.ok, path
        for target in ("torch", "keras"):
            _write(out / f"{path.stem}_{target}", generate(analysis, CompileOptions(target)))
            try:
                files = generate(analysis, CompileOptions(target, "classify"))
            except CnncError as exc:
                rejected.setdefault(path.stem, set()).update(d.code for d in exc.diagnostics if d.level == "error")
                continue
            _write(out / f"{path.stem}_{target}_classify", files)
    for target in ("torch", "keras"):  # the localize task's script, for a linear and a sigmoid head
        for name, text in (("linear", LOCALIZER), ("sigmoid", LOCALIZER.replace("as head", "as head -> sigmoid"))):
            spec = out / f"localize_{name}.cnn"
            spec.write_text(text, encoding="utf-8")
            _write(out / f"localize_{name}_{target}", generate(analyze(spec), CompileOptions(target, "localize")))
    for target in ("torch", "keras"):  # the verify task's scripts, for a siamese and an embedding network
        for spec in (ROOT / "specs" / "siamese.cnn", ROOT / "examples" / "verify" / "digits_embedding.cnn"):
            _write(out / f"verify_{spec.stem}_{target}", generate(analyze(spec), CompileOptions(target, "verify")))
    for target in ("torch", "keras"):  # the style task's train.py (VGG-19s), the visualize task's visualize.py
        for spec in ("vgg19", "keras_vgg19"):
            files = generate(analyze(ROOT / "specs" / f"{spec}.cnn"), CompileOptions(target, "style"))
            _write(out / f"style_{spec}_{target}", files)
        lenet = generate(analyze(ROOT / "specs" / "lenet5.cnn"), CompileOptions(target, "visualize"))
        _write(out / f"visualize_lenet5_{target}", lenet)
    for target, paths in OWN.items():
        for path in paths:
            _write(out / f"own_{path.stem}_{target}", generate(analyze(path), CompileOptions(target)))
    return rejected


def _ruff(*args: str) -> subprocess.CompletedProcess:
    # In a compiled folder cnnc_tasks/, model.py and train.py sit side by side: first party, as ruff finds them
    # there (verify.py and recognize.py import train.py's CONFIG and HEAD).
    first_party = 'lint.isort.known-first-party = ["cnnc_tasks", "model", "train"]'
    command = [sys.executable, "-m", "ruff", *args, "--no-cache", "--config", str(ROOT / "pyproject.toml"),
               "--config", first_party]
    return subprocess.run(command, capture_output=True, text=True)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> tuple[Path, dict[str, set[str]]]:
    out = tmp_path_factory.mktemp("generated")
    return out, _compile_all(out)


def test_every_library_spec_and_target_was_compiled(compiled):
    out, rejected = compiled
    models = sorted(out.glob("*/model.py"))
    scripts = sorted(out.glob("*/train.py"))
    classifiers = len(LIBRARY) - len(NOT_CLASSIFIERS)
    localizers = 2 * 2  # a linear and a sigmoid head, both targets
    verifiers = 2 * 2  # a siamese and an embedding network, both targets
    stylers, visualizers = 2 * 2, 2  # two VGG-19 specs, both targets; LeNet-5, both targets
    own = len(OWN["torch"]) + len(OWN["keras"])
    assert len(models) == 2 * len(LIBRARY) + 2 * classifiers + localizers + verifiers + stylers + visualizers + own
    assert len(scripts) == 2 * classifiers + localizers + verifiers + stylers
    assert len(sorted(out.glob("visualize_*/visualize.py"))) == visualizers
    assert len(sorted(out.glob("verify_*/verify.py")) + sorted(out.glob("verify_*/recognize.py"))) == 2 * verifiers


def test_classify_rejects_non_classifiers_with_a_diagnostic(compiled):
    _, rejected = compiled
    assert {name: sorted(codes) for name, codes in rejected.items()} == {
        name: [code] for name, code in NOT_CLASSIFIERS.items()
    }


def test_generated_files_are_ruff_format_clean(compiled):
    out, _ = compiled
    result = _ruff("format", "--check", "--diff", str(out))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_generated_files_are_ruff_check_clean(compiled):
    out, _ = compiled
    result = _ruff("check", "--output-format", "concise", str(out))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_the_runtime_copied_beside_every_script_is_ruff_clean(tmp_path):
    """The harness runtime (cnnc/tasks/) is copied into each compiled folder as cnnc_tasks/: it ships with the
    generated files, so it is held to the same two commands, for every task and framework."""
    from cnnc.tasks import TASKS
    from cnnc.tasks.task import runtime_files

    copies = 0
    for task in TASKS.values():
        for framework in task.frameworks:
            for name, text in runtime_files(task, framework).items():
                path = tmp_path / f"{task.name}_{framework}" / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                copies += 1
    assert copies > 100
    for command in (("format", "--check", "--diff"), ("check", "--output-format", "concise")):
        result = _ruff(*command, str(tmp_path))
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
