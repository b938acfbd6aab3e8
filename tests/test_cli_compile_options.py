"""`cnnc compile --task T` takes the task options of `cnnc train`, with the same meaning and the same checks."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

from cnnc.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "specs" / "lenet5.cnn"
VGG19 = ROOT / "specs" / "vgg19.cnn"


def _config_lines(folder: Path) -> list[str]:
    return [line.strip() for line in (folder / "train.py").read_text().splitlines()]


def _parser(verb: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser(verb)._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[verb]


def test_the_options_given_become_the_defaults_of_train_py(tmp_path):
    out = tmp_path / "out"
    args = ["compile", str(LENET), "--target", "torch", "--task", "classify", "--epochs", "3", "--lr", "0.5"]
    assert main([*args, "-o", str(out)]) == 0
    lines = _config_lines(out)
    assert '"epochs": 3,' in lines
    assert '"lr": 0.5,' in lines
    assert '"momentum": 0.9,' in lines  # an option not given keeps the task's default


def test_paths_are_written_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["compile", str(LENET), "--target", "keras", "--task", "classify", "--data", "some/rel/path.npz"]
    assert main([*args, "--weights", "w.npz", "-o", "out"]) == 0
    lines = _config_lines(tmp_path / "out")
    assert f'"data": "{Path("some/rel/path.npz").resolve()}",' in lines
    assert f'"weights": "{Path("w.npz").resolve()}",' in lines  # a checkpoint of our own: loaded as it is


def test_a_wrong_style_layer_is_an_error_at_compile_time_and_nothing_is_written(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["compile", str(VGG19), "--target", "torch", "--task", "style", "--content-layer", "features.99"]
    assert main([*args, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error[E0772]: task `style`: content layer `features.99` is no layer of `VGG19`" in err
    assert not out.exists()


def test_the_style_layers_given_reach_train_py(tmp_path):
    out = tmp_path / "out"
    args = ["compile", str(VGG19), "--target", "torch", "--task", "style", "--content-layer", "features.20"]
    assert main([*args, "--style-layers", "features.1", "features.6", "-o", str(out)]) == 0
    lines = _config_lines(out)
    assert '"content_layer": "features.20",' in lines
    assert '"style_layers": ["features.1", "features.6"],' in lines


def test_a_task_option_without_task_is_a_usage_error(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compile", str(LENET), "--target", "torch", "--epochs", "3", "-o", str(out)]) == 2
    assert capsys.readouterr().err == (
        "cnnc: error: --epochs is a task option: it needs --task, whose train.py takes it as its default\n"
    )
    assert main(["compile", str(LENET), "--target", "keras", "--epochs", "3", "--no-nesterov", "-o", str(out)]) == 2
    assert capsys.readouterr().err == (
        "cnnc: error: --epochs, --nesterov are task options: they need --task, whose train.py takes them as its "
        "defaults\n"
    )
    assert not out.exists()


def test_onnx_has_no_harness_for_task_options(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compile", str(LENET), "--target", "onnx", "--lr", "0.1", "-o", str(out)]) == 2
    assert capsys.readouterr().err == (
        "cnnc: error: --lr is a task option, and --target onnx writes no training harness "
        "(task options go with --task and --target keras or torch)\n"
    )
    assert main(["compile", str(LENET), "--target", "onnx", "--task", "classify", "--lr", "0.1", "-o", str(out)]) == 2
    assert capsys.readouterr().err == "cnnc: error: task classify has no onnx harness\n"
    assert not out.exists()


def test_an_option_the_task_does_not_have_is_refused_as_train_refuses_it(tmp_path, capsys):
    expected = "cnnc: error: task style has no option 'flip' for torch\n"
    args = [str(VGG19), "--target", "torch", "--task", "style", "--flip", "0.5"]
    assert main(["compile", *args, "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == expected
    assert main(["train", *args, "--build", str(tmp_path / "build")]) == 2
    assert capsys.readouterr().err == expected
    assert not (tmp_path / "out").exists() and not (tmp_path / "build").exists()


def _task_groups(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    return {
        group.title: [action.option_strings[0] for action in group._group_actions]
        for group in parser._action_groups
        if group.title.startswith("task options")
    }


def test_help_lists_the_task_options_grouped_as_train_does():
    compile_ = _parser("compile")
    text = " ".join(compile_.format_help().split())
    epochs = "--epochs EPOCHS epochs to train (in all, counting resumed ones) (default: 10)"
    assert f"task options: optimisation: {epochs}" in text
    assert "--content-layer CONTENT_LAYER the layer whose activations" in text
    assert "--weights WEIGHTS --target onnx: the weights of model.onnx" in text
    groups = _task_groups(compile_)
    assert groups == _task_groups(_parser("train"))
    assert list(groups)[:3] == ["task options: data", "task options: augmentation", "task options: optimisation"]


def test_foreign_weights_are_aligned_into_the_output_folder_as_train_does(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    model_dir = tmp_path / "model"
    assert main(["compile", str(LENET), "--target", "torch", "-o", str(model_dir)]) == 0
    loader = importlib.util.spec_from_file_location("lenet5_model", model_dir / "model.py")
    model = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(model)  # the generated LeNet5
    state = model.build_model().state_dict()
    path = tmp_path / "renamed.pt"  # none of the model's names: aligned by order and shape
    torch.save({f"net.{k}": v for k, v in state.items()}, path)
    out = tmp_path / "out"
    capsys.readouterr()
    args = ["compile", str(LENET), "--target", "torch", "--task", "classify", "--weights", str(path)]
    assert main([*args, "-o", str(out)]) == 0
    written = out / "weights" / "renamed.pt"
    assert f"aligned to the spec by structure: {len(state)} tensors matched" in capsys.readouterr().out
    assert f'"weights": "{written}",' in _config_lines(out)
    aligned = torch.load(written, weights_only=True)
    assert sorted(aligned) == sorted(state)
    assert all(torch.equal(aligned[k], v) for k, v in state.items())
