"""Every class of diagnostic: its code, its message, and where its caret points."""

from __future__ import annotations

import time

import pytest

from cnnc.compiler import analyze
from cnnc.diagnostics import Diagnostic, render


def check(spec_file, text: str):
    analysis = analyze(spec_file(text))
    return analysis, analysis.diagnostics


def only(diags: list[Diagnostic], code: str) -> Diagnostic:
    found = [d for d in diags if d.code == code]
    assert len(found) == 1, [(d.code, d.message) for d in diags]
    return found[0]


def caret(analysis, diag: Diagnostic) -> tuple[str, str]:
    """The rendered source line and the caret line under it, gutter stripped."""
    lines = render(diag, analysis.sources).splitlines()
    index = next(i for i, line in enumerate(lines) if "^" in line and "|" in line)
    source, marks = lines[index - 1], lines[index]
    cut = source.index("|") + 2
    return source[cut:], marks[cut:]


def assert_caret_under(analysis, diag: Diagnostic, text: str) -> None:
    source, marks = caret(analysis, diag)
    start = marks.index("^")
    width = len(marks.rstrip()) - start
    assert source[start:start + width] == text, (source, marks)


NET = "network N() {{\n  input x: {shape}\n{body}\n}}\n"


def net(body: str, shape: str = "32x32x3") -> str:
    return NET.format(shape=shape, body=body)


def test_syntax_error_names_what_was_expected(spec_file):
    analysis, diags = check(spec_file, net("  x -> conv(8 3) -> relu -> output y"))
    diag = only(diags, "E0001")
    assert diag.message == "unexpected `3`"
    assert (diag.span.line, diag.span.column) == (3, 15)
    assert any("`)`" in note and "`,`" in note for note in diag.notes), diag.notes
    assert_caret_under(analysis, diag, "3")


def test_syntax_error_at_end_of_file(spec_file):
    analysis, diags = check(spec_file, "network N() {\n  input x: 8x8x1\n")
    diag = only(diags, "E0001")
    assert diag.message == "unexpected end of file"
    assert diag.help == "a `{` is never closed"


def test_unknown_op_suggests_the_closest(spec_file):
    analysis, diags = check(spec_file, net("  x -> conv(8, 3) -> maxpol(2) -> flatten -> output y"))
    diag = only(diags, "E0101")
    assert diag.message == "unknown op `maxpol`"
    assert diag.help == "did you mean `maxpool`?"
    assert (diag.span.line, diag.span.column) == (3, 22)
    assert_caret_under(analysis, diag, "maxpol")


def test_unknown_name_suggests_the_closest(spec_file):
    text = """block b(filters: int) {
  return in -> conv(fliters, 3)
}
network N() {
  input x: 8x8x1
  x -> b(4) -> output y
}
"""
    analysis, diags = check(spec_file, text)
    diag = only(diags, "E0102")
    assert diag.message == "unknown name `fliters`"
    assert diag.help == "did you mean `filters`?"
    assert_caret_under(analysis, diag, "fliters")


@pytest.mark.parametrize(
    "step, message, under",
    [
        ("conv(8, 0)", "`kernel` must be at least 1, got 0", "0"),
        ("conv(8, 3, stride=-1)", "`stride` must be at least 1, got -1", "-1"),
        ("dropout(1.5)", "`rate` must be less than 1.0, got 1.5", "1.5"),
        ("conv(8, 3, padding=sme)", "`padding` must be 'valid', 'same', 'same_lower' or 'causal', got `sme`", "sme"),
        ("conv(8, 3, bias=3)", "invalid `bias`: 3 (int)", "3"),
    ],
)
def test_bad_attribute_values(spec_file, step, message, under):
    analysis, diags = check(spec_file, net(f"  x -> {step} -> flatten -> output y"))
    diag = only(diags, "E0201")
    assert diag.message == message
    assert_caret_under(analysis, diag, under)


def test_bad_padding_suggests_same(spec_file):
    _, diags = check(spec_file, net("  x -> conv(8, 3, padding=sme) -> flatten -> output y"))
    assert only(diags, "E0201").help == "did you mean `same`?"


def test_unknown_attribute(spec_file):
    analysis, diags = check(spec_file, net("  x -> conv(8, 3, strid=2) -> flatten -> output y"))
    diag = only(diags, "E0203")
    assert diag.message == "`conv` has no attribute `strid`"
    assert diag.help == "did you mean `stride`?"
    assert_caret_under(analysis, diag, "strid=2")


def test_missing_attribute(spec_file):
    _, diags = check(spec_file, net("  x -> conv -> flatten -> output y"))
    assert [d.message for d in diags if d.code == "E0204"] == ["`conv` needs `filters`", "`conv` needs `kernel`"]


def test_kernel_too_big_shows_the_arithmetic(spec_file):
    analysis, diags = check(spec_file, net("  x -> conv(8, 9) -> flatten -> output y", shape="7x7x3"))
    diag = only(diags, "E0301")
    assert diag.message == "kernel 9 does not fit the padded input 7 on axis 0"
    assert diag.notes == ["(n + 2p - f) / s + 1 = (7 + 2*0 - 9) / 1 + 1 = -1"]
    assert diag.help.startswith("did you mean `padding=same`?")
    assert_caret_under(analysis, diag, "conv(8, 9)")


def test_kernel_too_big_with_stride_and_padding(spec_file):
    _, diags = check(spec_file, net("  x -> conv(8, 11, stride=4, padding=1) -> flatten -> output y", shape="8x8x3"))
    assert only(diags, "E0301").notes == ["(n + 2p - f) / s + 1 = (8 + 2*1 - 11) / 4 + 1 = 0.75"]


def test_add_of_mismatched_shapes_points_at_both_operands(spec_file):
    body = "  a = x -> conv(16, 3, padding=same)\n  b = x -> conv(8, 3, padding=same)\n  add(a, b) -> output y"
    analysis, diags = check(spec_file, net(body))
    diag = only(diags, "E0302")
    assert diag.message == "`add` of mismatched shapes 32x32x16 and 32x32x8"
    assert [(label.span.line, label.span.column, label.message) for label in diag.labels] == [
        (5, 7, "this is 32x32x16"), (5, 10, "this is 32x32x8")]
    assert diag.help == "project the shortcut with `conv(16, 1)` so the channels match"
    text = render(diag, analysis.sources)
    assert "- this is 32x32x16" in text and "- this is 32x32x8" in text


def test_concat_of_mismatched_spatial_sizes(spec_file):
    analysis, diags = check(spec_file, net("  concat(x, x -> maxpool(2)) -> output y"))
    diag = only(diags, "E0303")
    assert diag.message == "`concat` of mismatched sizes 32x32x3 and 16x16x3"
    assert [label.message for label in diag.labels] == ["this is 32x32x3", "this is 16x16x3"]
    assert diag.labels[1].span.column == 13
    assert_caret_under(analysis, diag, "concat(x, x -> maxpool(2))")


def test_cycle(spec_file):
    body = "  p = q -> relu\n  q = p -> relu\n  p -> output y"
    analysis, diags = check(spec_file, net(body))
    diag = only(diags, "E0401")
    assert diag.message == "cycle: `p` -> `q` -> `p`"
    assert (diag.span.line, diag.span.column) == (3, 7)
    assert_caret_under(analysis, diag, "q")


def test_use_before_definition_is_not_a_cycle(spec_file):
    _, diags = check(spec_file, net("  p = q -> relu\n  q = x -> relu\n  p -> output y"))
    diag = only(diags, "E0103")
    assert diag.message == "`q` is used before it is defined"
    assert diag.labels[0].span.line == 4


def test_block_that_calls_itself(spec_file):
    text = """block loop(n: int) {
  return in -> conv(n, 1) -> loop(n)
}
network N() {
  input x: 8x8x1
  x -> loop(4) -> output y
}
"""
    analysis, diags = check(spec_file, text)
    diag = only(diags, "E0402")
    assert diag.message == "block `loop` calls itself"
    assert diag.notes == ["call chain: `loop` -> `loop`"]
    assert_caret_under(analysis, diag, "loop")
    assert diag.span.line == 2


def test_value_never_used_is_a_warning(spec_file):
    analysis, diags = check(spec_file, net("  unused = x -> conv(4, 3)\n  x -> flatten -> output y"))
    diag = only(diags, "W0501")
    assert diag.level == "warning"
    assert diag.message == "value `unused` is never used"
    assert analysis.ok
    assert_caret_under(analysis, diag, "conv(4, 3)")


def test_network_without_output(spec_file):
    analysis, diags = check(spec_file, net("  h = x -> relu"))
    diag = only(diags, "E0502")
    assert diag.message == "network `N` has no output"
    assert diag.help == "end a chain with `-> output y`"
    assert_caret_under(analysis, diag, "N")


def test_repeat_bomb_is_refused_quickly(spec_file):
    started = time.perf_counter()
    analysis, diags = check(spec_file, net("  x -> relu * 1000000000 -> output y"))
    assert time.perf_counter() - started < 1.0
    diag = only(diags, "E0601")
    assert diag.message == "repeat count 1,000,000,000 is too large"
    assert_caret_under(analysis, diag, "1000000000")


def test_loop_bomb_is_refused(spec_file):
    started = time.perf_counter()
    _, diags = check(spec_file, net("  h = x\n  for i in range(1000000000) { h = h -> relu }\n  h -> output y"))
    assert time.perf_counter() - started < 30
    assert only(diags, "E0601").message in ("the network has more than 12,000 layers",
                                             "the spec takes too long to expand",
                                             "a range of more than 1,048,576 numbers is too long")


def test_absurd_sizes_are_refused(spec_file):
    analysis, diags = check(spec_file, net("  x -> flatten -> output y", shape="100000000x100000000x3"))
    diag = only(diags, "E0601")
    assert diag.message.startswith("shape 100000000x100000000x3 is too large")


def test_huge_dense_is_refused(spec_file):
    _, diags = check(spec_file, net("  x -> flatten -> dense(10 ** 15) -> output y"))
    assert only(diags, "E0601").message.startswith("shape 1000000000000000 is too large")


def test_every_independent_error_in_one_run(spec_file):
    body = "\n".join([
        "  a = x -> conv(8, 0)",
        "  b = x -> cnov(3, 3)",
        "  c = x -> dropout(2.0)",
        "  add(x -> conv(4, 1), x) -> output y",
    ])
    _, diags = check(spec_file, net(body))
    assert sorted(d.code for d in diags if d.is_error) == ["E0101", "E0201", "E0201", "E0302"]


def test_errors_after_an_error_in_the_same_chain(spec_file):
    _, diags = check(spec_file, net("  x -> conv(8, 40) -> dropout(1.5) -> output y"))
    assert sorted(d.code for d in diags) == ["E0201", "E0301"]


def test_error_inside_a_loop_is_reported_once(spec_file):
    _, diags = check(spec_file, net("  h = x\n  repeat 5 { h = h -> conv(8, 0) }\n  h -> output y"))
    assert [d.code for d in diags] == ["E0201"]


def test_unknown_network_parameter_override(tmp_path):
    path = tmp_path / "n.cnn"
    path.write_text("network N(num_classes: int = 10) {\n  input x: 4x4x1\n  x -> output y\n}\n")
    diags = analyze(path, overrides={"num_clases": 3}).diagnostics
    diag = only(diags, "E0205")
    assert diag.help == "did you mean `num_classes`?"


def test_override_of_the_wrong_type(tmp_path):
    path = tmp_path / "n.cnn"
    path.write_text("network N(num_classes: int = 10) {\n  input x: 4x4x1\n"
                    "  x -> flatten -> dense(num_classes) -> output y\n}\n")
    diag = only(analyze(path, overrides={"num_classes": 2.5}).diagnostics, "E0201")
    assert diag.message == "`num_classes` expects int, got float 2.5"


def test_shared_block_on_inputs_that_need_other_weights(spec_file):
    text = """block unit(c: int) { return in -> conv(c, 3, padding=same) -> relu }
network N() {
  input a: 8x8x3
  input b: 8x8x5
  shared f = unit(4)
  add(a -> f, b -> f) -> output y
}
"""
    analysis, diags = check(spec_file, text)
    diag = only(diags, "E0306")
    assert diag.message == "`f` cannot share weights between these inputs"
    assert diag.notes == ["layer `f.conv1` would need weights of another shape"]
    assert (diag.span.line, diag.labels[0].span.line) == (6, 5)
    assert_caret_under(analysis, diag, "f")


def test_blocks_nested_past_the_limit(spec_file):
    # b0 calls b1 ... calls b65: blocks nest 64 deep at most.
    blocks = "".join(f"block b{i}() {{ return in -> b{i + 1} }}\n" for i in range(65))
    text = blocks + "block b65() { return in -> relu }\nnetwork N() {\n  input x: 4\n  x -> b0 -> output y\n}\n"
    analysis, diags = check(spec_file, text)
    diag = only(diags, "E0601")
    assert diag.message == "blocks nest too deeply"
    assert diag.span.line == 64  # b0 ... b63 are open: b63 may not call b64
