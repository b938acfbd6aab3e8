"""The classify task at compile time: the head it finds, the errors it reports, the train.py it writes."""

from __future__ import annotations

import ast

import pytest
from harness_util import SMALL

from cnnc.build import CompileOptions
from cnnc.cli import main
from cnnc.compiler import analyze
from cnnc.diagnostics import CnncError
from cnnc.tasks import TASKS, classify, generate
from cnnc.tasks.classify.runtime.common import Head


def head_of(spec_file, text: str) -> Head:
    analysis = analyze(spec_file(text))
    assert analysis.ok, analysis.diagnostics
    return classify.plan(analysis.graph)


def net(body: str, params: str = "num_classes: int = 10", shape: str = "8x8x3") -> str:
    return f"network N({params}) {{\n  input x: {shape}\n  {body}\n}}\n"


def test_softmax_head_with_its_layer_and_width_parameter(spec_file):
    head = head_of(spec_file, SMALL)
    assert head == Head(output="y", outputs=("y",), units=4, activation="softmax", layer="fc",
                        units_param="num_classes", dense_tail=True)


@pytest.mark.parametrize("tail, activation, units, binary", [
    ("dense(num_classes) -> softmax", "softmax", 10, False),
    ("dense(num_classes)", "logits", 10, False),
    ("dense(1) -> sigmoid", "sigmoid", 1, True),
    ("dense(1)", "logits", 1, True),
    ("dense(num_classes) -> sigmoid", "sigmoid", 10, False),
])
def test_the_last_op_decides_probabilities_or_logits(spec_file, tail, activation, units, binary):
    head = head_of(spec_file, net(f"x -> global_avgpool -> {tail} -> output y"))
    assert (head.activation, head.units, head.binary) == (activation, units, binary)


def test_conv_head_is_found_but_cannot_be_trained_alone(spec_file):
    head = head_of(spec_file, net("x -> conv(num_classes, 1) as score -> relu -> global_avgpool -> softmax "
                                  "-> output y"))
    assert (head.layer, head.units_param, head.dense_tail) == ("score", "num_classes", False)


def _model_arguments(analysis, target: str) -> list[str]:
    """The arguments the generated model's constructor (torch) or builder (Keras) takes."""
    from cnnc.backends import keras as keras_backend
    from cnnc.backends import torch as torch_backend

    source = (torch_backend if target == "torch" else keras_backend).generate(analysis)["model.py"]
    name = "__init__" if target == "torch" else "build_n"
    (fn,) = [f for f in ast.walk(ast.parse(source)) if isinstance(f, ast.FunctionDef) and f.name == name]
    return [a.arg for a in fn.args.args if a.arg != "self"]


@pytest.mark.parametrize("body, units_param", [
    # issue 10: the first dense's width feeds the second dense, which takes it as a constructor argument
    ("x -> flatten -> dense(num_classes) -> relu -> dense(num_classes) -> softmax -> output y", "num_classes"),
    ("x -> conv(num_classes, 1) -> relu -> global_avgpool -> softmax -> output y", "num_classes"),
    ("x -> global_avgpool -> dense(num_classes) -> dropout(0.5) -> softmax -> output y", "num_classes"),
    ("x -> conv(num_classes, 1) -> flatten -> dense(3) -> softmax -> output y", None),
    # MobileNet's head: a 1x1 map flattened; on main, plan and model disagreed here too
    ("x -> global_avgpool(keepdims=true) -> conv(num_classes, 1) -> flatten -> softmax -> output y", "num_classes"),
])
@pytest.mark.parametrize("target", ["torch", "keras"])
def test_the_head_width_parameter_is_one_the_model_takes(spec_file, body, units_param, target):
    analysis = analyze(spec_file(net(body, shape="8x8x1")))
    head = classify.plan(analysis.graph)
    assert head.units_param == units_param
    assert ("num_classes" in _model_arguments(analysis, target)) == (units_param is not None)


def test_a_width_parameter_that_is_not_the_output_width_is_not_the_head_width(spec_file):
    head = head_of(spec_file, net("x -> avgpool(4) -> conv(num_classes, 1) -> flatten -> softmax -> output y"))
    assert head.units == 40 and head.units_param is None  # 2x2 positions x num_classes


def test_structural_width_parameter_is_not_a_constructor_argument(spec_file):
    head = head_of(spec_file, net("x -> global_avgpool -> dense(num_classes * 2) -> output y"))
    assert head.units == 20 and head.units_param is None


def test_auxiliary_outputs_follow_the_first(spec_file):
    head = head_of(spec_file, net("h = x -> conv(4, 3) -> global_avgpool\n  h -> dense(10) as main -> softmax "
                                  "-> output y\n  h -> dense(10) as aux1 -> softmax -> output aux"))
    assert (head.output, head.outputs, head.layer) == ("y", ("y", "aux"), "main")


def test_spatial_output_is_an_error_at_the_output(spec_file):
    path = spec_file(net("x -> conv(10, 1) -> output y"))
    with pytest.raises(CnncError) as caught:
        classify.plan(analyze(path).graph)
    (diag,) = caught.value.diagnostics
    assert diag.code == "E0702"
    assert diag.message == "task `classify` needs class scores, but output `y` is 8x8x10"
    assert (diag.span.line, diag.span.column) == (3, 23)
    assert "global_avgpool" in diag.help


def test_every_mismatch_is_reported_at_once(spec_file):
    text = ("network N() {\n  input a: 8x8x3\n  input b: 8x8x3\n  add(a, b) -> global_avgpool -> dense(1) -> "
            "softmax -> output y\n  a -> global_avgpool -> dense(3) -> output z\n}\n")
    with pytest.raises(CnncError) as caught:
        classify.plan(analyze(spec_file(text)).graph)
    assert [d.code for d in caught.value.diagnostics] == ["E0701", "E0703", "E0704"]


def test_compile_reports_a_spec_that_does_not_fit_the_task(spec_file, tmp_path, capsys):
    path = spec_file(net("x -> conv(10, 1) -> output y"))
    assert main(["compile", str(path), "--target", "torch", "--task", "classify", "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "error[E0702]: task `classify` needs class scores, but output `y` is 8x8x10" in err
    assert not (tmp_path / "o").exists()


def test_unknown_task_is_a_usage_error(spec_file, tmp_path, capsys):
    status = main(["compile", str(spec_file(SMALL)), "--target", "torch", "--task", "sgment", "-o", str(tmp_path)])
    assert status == 2
    tasks = "classify, detect, landmarks, localize, segment, style, verify, visualize"
    assert f"unknown task 'sgment'; tasks: {tasks}" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["torch", "keras"])
def test_generated_script_is_valid_deterministic_and_self_contained(spec_file, target):
    analysis = analyze(spec_file(SMALL))
    files = generate(analysis, CompileOptions(target, "classify"))
    assert files == generate(analysis, CompileOptions(target, "classify"))
    assert sorted(files) == sorted(["train.py", "cnnc_tasks/__init__.py"] + [f"cnnc_tasks/runtime/{m}.py" for m in (
        "__init__", "config", "data", "augment", "metrics", "loop", "curves", "records", f"{target}_lib",
        f"{target}_data")] +
        [f"cnnc_tasks/classify/{m}.py" for m in ("__init__", "options", "runtime/__init__", "runtime/common",
                                                  f"runtime/{target}")])
    for name, source in files.items():
        tree = ast.parse(source)
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                     and n.level == 0}
        assert "cnnc" not in imported, name
    script = files["train.py"]
    head = 'output="y", outputs=("y",), units=4, activation="softmax", layer="fc", units_param="num_classes"'
    assert f"HEAD = Head(\n    {head}, dense_tail=True\n)\n" in script
    assert "# it ends in softmax: the loss is NLL on the log of its probabilities." in script
    assert max(len(line) for line in script.splitlines()) <= 120


def test_task_options_become_the_scripts_defaults_as_literals(spec_file):
    hostile = 'data"""; import os; os.system("x")  #'
    options = CompileOptions("torch", "classify", {"data": hostile, "epochs": "7", "nesterov": "true",
                                                   "ensemble": ["a.pt", "b.pt"]})
    script = generate(analyze(spec_file(SMALL)), options)["train.py"]
    config = next(n for n in ast.parse(script).body if isinstance(n, ast.Assign) and n.targets[0].id == "CONFIG")
    values = ast.literal_eval(config.value)
    assert (values["data"], values["epochs"], values["nesterov"], values["ensemble"]) == (hostile, 7, True,
                                                                                         ["a.pt", "b.pt"])
    assert "strategy" not in values and values["device"] == "auto"


def test_bad_task_option_is_a_usage_error(spec_file):
    from cnnc.errors import UsageError

    with pytest.raises(UsageError, match="--optimizer takes one of sgd, adam"):
        generate(analyze(spec_file(SMALL)), CompileOptions("torch", "classify", {"optimizer": "lbfgs"}))
    with pytest.raises(UsageError, match="no option 'colour'"):
        generate(analyze(spec_file(SMALL)), CompileOptions("torch", "classify", {"colour": 1}))


def test_registry_names_its_tasks():
    assert sorted(TASKS) == ["classify", "detect", "landmarks", "localize", "segment", "style", "verify", "visualize"]
    assert TASKS["classify"].frameworks == ("torch", "keras")


def test_train_verb_takes_every_task_option():
    from cnnc.cli import build_parser
    from cnnc.cli.task_options import task_overrides

    args = build_parser("train").parse_args([
        "train", "s.cnn", "--target", "torch", "--data", "d.npz", "--epochs", "3", "--no-nesterov",
        "--ensemble", "a.pt", "b.pt"])
    given = task_overrides(args)
    assert given["epochs"] == "3" and given["nesterov"] is False
    assert given["data"].endswith("/d.npz") and given["data"].startswith("/")
    assert [p.rsplit("/", 1)[1] for p in given["ensemble"]] == ["a.pt", "b.pt"]


def test_layers_with_weights_are_listed_in_spec_order(spec_file):
    text = net("h = x -> conv(8, 3) as stem -> relu\n  a = h -> conv(4, 1) as a1\n  b = h -> conv(4, 1) as b1\n"
               "  shared s = conv(4, 1)\n  p = a -> s\n  q = b -> s\n  concat(p, q) -> global_avgpool -> "
               "dense(num_classes) as fc -> output y")
    graph = analyze(spec_file(text)).graph
    assert classify.weighted_layers(graph) == ["stem", "a1", "b1", "s", "fc"]
    script = generate(analyze(spec_file(text)), CompileOptions("keras", "classify"))["train.py"]
    assert 'LAYERS = ("stem", "a1", "b1", "s", "fc")' in script
