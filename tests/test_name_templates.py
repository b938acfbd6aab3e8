"""Name templates (`as conv_dw_{block_id}`) and anonymous block calls (`as _`): README, Names.

keras.applications names layers from a block number (`conv_dw_1`, `block_1_expand`) or leaves
them to Keras' automatic names (`conv2d_5`); these two features let a spec state such names.
"""

from __future__ import annotations

import pytest

from cnnc.compiler import analyze
from cnnc.ir.calls import named
from cnnc.ir.names import code_name
from cnnc.report import summary_json
from cnnc.syntax.fmt import format_source

SPEC = """\
block unit(filters: int, block_id: int) {
  return in -> conv(filters, 1) as conv_pw_{block_id} -> relu as conv_pw_{block_id}_relu -> relu
}

block expand(filters: int) {
  return in -> conv(filters, 1) as _expand -> relu as _expand_relu
}

network T() {
  input x: 8x8x3
  h = x
  for i in range(2) { h = h -> unit(4, i + 1) as _ }
  for k in range(1, 3) { h = h -> expand(4) as block_{k} }
  auto = "_" + str(7)
  h = h -> conv(4, 1) as conv2d{auto} -> relu as named
  for i in range(2) { h = h -> relu as act{2 * i} -> relu as plain }
  h -> output y
}
"""


def _ids(spec_file, text: str) -> list[str]:
    analysis = analyze(spec_file(text))
    assert analysis.ok, [(d.code, d.message) for d in analysis.diagnostics]
    return [node.id for node in analysis.graph.topological()]


def test_templates_name_layers_and_calls_and_anonymous_calls_add_nothing(spec_file):
    ids = _ids(spec_file, SPEC)
    assert ids == [
        "x",
        "conv_pw_1", "conv_pw_1_relu", "relu1",  # the anonymous call's layers are the network's own
        "conv_pw_2", "conv_pw_2_relu", "relu2",  # its automatic names continue the caller's count
        "block_1._expand", "block_1._expand_relu", "block_2._expand", "block_2._expand_relu",
        "conv2d_7", "named",
        "act0", "plain1", "act2", "plain2",  # a template is not numbered by the loop; a plain name is
    ]
    assert [code_name(i) for i in ids[7:11]] == ["block_1_expand", "block_1_expand_relu", "block_2_expand",
                                                 "block_2_expand_relu"]


def test_an_anonymous_call_is_recorded_with_its_block_and_args_and_its_layers_keep_the_callers_path(spec_file):
    graph = analyze(spec_file(SPEC)).graph
    calls = graph.structure.calls
    assert [(c.path, c.block, c.args, c.anonymous) for c in calls] == [
        ("", "unit", {"filters": 4, "block_id": 1}, True),  # the path of its caller: the network's body
        ("", "unit", {"filters": 4, "block_id": 2}, True),
        ("block_1", "expand", {"filters": 4}, False),
        ("block_2", "expand", {"filters": 4}, False),
    ]
    assert [c.parent for c in calls] == [None, None, None, None]
    assert [(c.loop.kind, c.index) for c in calls[:2]] == [("for", 0), ("for", 1)]
    assert [graph.node(i).call for i in ("conv_pw_2", "conv_pw_2_relu", "relu2")] == [calls[1]] * 3
    assert named(graph.node("conv_pw_2").call) is None  # the body whose path its id has: the network's
    assert graph.node("block_2._expand").call is calls[3]


def test_an_anonymous_call_inside_a_block_has_the_blocks_path_and_adds_nothing_to_summaries(spec_file):
    text = """\
block unit(filters: int, n: int) {
  return in -> conv(filters, 1) as conv_{n} -> relu as relu_{n}
}

block stage(first: int) {
  return in -> unit(4, first) as _ -> unit(8, first + 1) as _
}

network T() {
  input x: 8x8x3
  x -> stage(1) as s -> output y
}
"""
    analysis = analyze(spec_file(text))
    stage, first, second = analysis.graph.structure.calls
    assert [(c.path, c.block, c.args, c.anonymous) for c in (first, second)] == [
        ("s", "unit", {"filters": 4, "n": 1}, True),
        ("s", "unit", {"filters": 8, "n": 2}, True),
    ]
    assert first.parent is stage and second.parent is stage
    assert [n.id for n in analysis.graph.topological()] == ["x", "s.conv_1", "s.relu_1", "s.conv_2", "s.relu_2"]
    assert analysis.graph.node("s.conv_2").call is second and named(second) is stage
    summary = summary_json(analysis)
    assert [c["path"] for c in summary["calls"]] == ["s"]  # a summary shows the calls that name things
    assert [layer["block"] for layer in summary["layers"]] == [None, "s", "s", "s", "s"]


def _error(spec_file, text: str):
    analysis = analyze(spec_file(text))
    assert not analysis.ok
    return analysis.diagnostics[0]


@pytest.mark.parametrize("name, message", [
    ("conv_{0.5}", "a `{...}` in a name gives a whole number or a string, got a float"),
    ("conv_{true}", "a `{...}` in a name gives a whole number or a string, got a bool"),
])
def test_a_template_part_must_be_a_number_or_a_string(spec_file, name, message):
    diag = _error(spec_file, f"network N() {{\n  input x: 8x8x3\n  x -> conv(8, 3) as {name} -> output y\n}}\n")
    assert (diag.code, diag.message) == ("E0235", message)
    assert (diag.span.line, diag.span.column) == (3, 28)  # the expression inside the braces


def test_an_empty_template_part_is_refused(spec_file):
    diag = _error(spec_file, "network N() {\n  input x: 8x8x3\n  x -> conv(8, 3) as conv_{ } -> output y\n}\n")
    assert (diag.code, diag.span.line, diag.span.column) == ("E0235", 3, 27)  # the braces


def test_a_number_out_of_range_in_a_template_is_a_diagnostic(spec_file):
    """Found by tests/test_fuzz.py: the template's own parse once leaked lark's VisitError."""
    text = "network N() {\n  input x: 8x8x3\n  x -> conv(8, 3) as c{9223372036854775808} -> output y\n}\n"
    diag = _error(spec_file, text)
    assert (diag.code, diag.span.line, diag.span.column) == ("E0601", 3, 24)


def test_a_template_must_give_a_name(spec_file):
    diag = _error(spec_file, 'network N() {\n  input x: 8x8x3\n  x -> conv(8, 3) as c{"a.b"} -> output y\n}\n')
    assert (diag.code, diag.message) == ("E0236", "`ca.b` is not a name")
    assert (diag.span.line, diag.span.column) == (3, 22)


def test_an_unknown_name_in_a_template_is_reported_there(spec_file):
    diag = _error(spec_file, "network N() {\n  input x: 8x8x3\n  x -> conv(8, 3) as c{nope} -> output y\n}\n")
    assert (diag.code, diag.span.line, diag.span.column) == ("E0102", 3, 24)


@pytest.mark.parametrize("step, column", [("conv(8, 3) as _", 8), ("(conv(8, 3) -> relu) as _", 8)])
def test_only_a_block_call_can_be_anonymous(spec_file, step, column):
    diag = _error(spec_file, f"network N() {{\n  input x: 8x8x3\n  x -> {step} -> output y\n}}\n")
    assert (diag.code, diag.message) == ("E0237", "only a block call can be anonymous (`as _`)")
    assert (diag.span.line, diag.span.column) == (3, column)


def test_str_writes_whole_numbers_only(spec_file):
    diag = _error(spec_file, 'network N() {\n  input x: 8x8x3\n  s = str(0.5)\n  x -> output y\n}\n')
    assert diag.code == "E0207" and "str takes a whole number or a string" in diag.message


def test_fmt_keeps_a_template_as_written():
    source = "network N() {\n  input x: 8x8x3\n  x -> conv(8, 3)   as conv_{1 + 2}_bn -> block(1) as _ -> output y\n}\n"
    assert format_source(source, "t.cnn") == (
        "network N() {\n  input x: 8x8x3\n  x -> conv(8, 3) as conv_{1 + 2}_bn -> block(1) as _ -> output y\n}\n"
    )


def test_a_brace_after_a_plain_name_still_opens_a_body(spec_file):
    """Only a name after `as` can be a template: `repeat n{` is `n`, then a body."""
    ids = _ids(spec_file, "network N(n: int = 2) {\n  input x: 8x8x3\n  h = x\n  repeat n{ h = h -> relu }\n"
                          "  h -> output y\n}\n")
    assert ids == ["x", "relu1", "relu2"]
