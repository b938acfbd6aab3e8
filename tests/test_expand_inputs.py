"""An input whose shape is an error poisons its name: one error, no follow-ups."""

from cnnc.compiler import analyze


def codes(spec_file, text: str) -> list[str]:
    return [d.code for d in analyze(spec_file(text)).diagnostics]


def test_bad_input_shape_reports_once(spec_file):
    text = "SIZES = [32]\nnetwork N() {\n  input x: (SIZES[1], 32, 3)\n  x -> conv(8, 3) -> output y\n}\n"
    assert codes(spec_file, text) == ["E0206"]


def test_non_shape_input_reports_once(spec_file):
    text = "network N() {\n  input x: 2.5\n  x -> conv(8, 3) -> output y\n}\n"
    assert codes(spec_file, text) == ["E0201"]


def test_duplicate_input_keeps_the_first(spec_file):
    text = "network N() {\n  input x: 8x8x3\n  input x: 4x4x3\n  x -> conv(8, 3) -> output y\n}\n"
    result = analyze(spec_file(text))
    assert [d.code for d in result.diagnostics] == ["E0211"]
