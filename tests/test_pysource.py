"""The one code writer: identifiers, literals, file labels and ruff's line splitting."""

from __future__ import annotations

from cnnc.backends import keras as keras_backend
from cnnc.backends.pysource import (
    CodeWriter,
    Namespace,
    call,
    file_label,
    format_lines,
    inline,
    list_of,
    literal,
)
from cnnc.backends.torch.model import render_model
from cnnc.compiler import analyze


def test_namespace_gives_legal_unique_names_that_shadow_nothing():
    names = Namespace({"build_model"})
    assert [names("a", "list"), names("b", "class"), names("c", "build_model"), names("d", "2x.y")] == [
        "list_",
        "class_",
        "build_model_",
        "v_2x_y",
    ]
    assert names("e", "conv") == "conv" and names("f", "conv") == "conv_" and names("e") == "conv"
    attrs = Namespace(attributes=True)  # `self.list` shadows nothing: only keywords are out
    assert (attrs("a", "list"), attrs("b", "lambda")) == ("list", "lambda_")


def test_literals_are_written_as_ruff_writes_them():
    assert inline('it\'s "x"\n\u00e9') == '"it\'s \\"x\\"\\x0a\\xe9"'
    assert [inline(v) for v in [(2,), (1, 2), [], None, True, 1e-05, float("-inf")]] == [
        "(2,)",
        "(1, 2)",
        "[]",
        "None",
        "True",
        "1e-05",
        'float("-inf")',
    ]
    assert literal(3) == "3" and literal("a") == '"a"'


def test_file_label_keeps_plain_names_only():
    assert file_label("/a/b/lenet5.cnn") == "lenet5.cnn"
    assert file_label("C:\\specs\\vgg-16_v2.cnn") == "vgg-16_v2.cnn"
    assert file_label('/x/evil"""; import os.cnn') is None
    assert file_label("/x/" + "a" * 61 + ".cnn") is None


def test_a_chained_call_splits_its_last_brackets_first():
    layer = call(call("layers.Conv2D", "64", "3", 'name="conv1"'), "x" * 90)
    assert format_lines(1, "conv1 = ", layer) == [
        '    conv1 = layers.Conv2D(64, 3, name="conv1")(',
        "        " + "x" * 90,
        "    )",
    ]
    long_name = "y" * 80
    layer = call(call("layers.Conv2D", "64", "3", f'name="{long_name}"'), list_of("a", "b"))
    assert format_lines(1, "conv1 = ", layer) == [
        "    conv1 = layers.Conv2D(",
        f'        64, 3, name="{long_name}"',
        "    )([a, b])",
    ]


def test_a_trailing_comment_moves_above_a_statement_it_would_push_past_the_limit():
    code = CodeWriter()
    code.statement("x = ", "f" * 100, comment="12x12x3, line 4")
    code.statement("y = ", "g", comment="line 5")
    assert code.lines == ["# 12x12x3, line 4", "x = " + "f" * 100, "y = g  # line 5"]


def test_generated_modules_say_what_they_export(spec_file):
    analysis = analyze(spec_file("network Tiny() {\n  input x: 4\n  x -> dense(2) -> output y\n}\n"))
    assert analysis.ok, analysis.diagnostics
    graph = analysis.graph
    assert render_model(graph).exports == ("Tiny", "build_model", "INPUTS", "OUTPUTS")
    assert keras_backend.model_code(graph).exports == ("build_tiny", "build_model", "INPUTS", "OUTPUTS")
