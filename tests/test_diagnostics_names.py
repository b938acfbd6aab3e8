"""Diagnostics about names: unknown tensors at a chain's head or in a merge, and non-ASCII names."""

from __future__ import annotations

import pytest
from test_diagnostics import assert_caret_under, check, net, only

from cnnc.cli import main
from cnnc.compiler import analyze


@pytest.mark.parametrize(
    "line, under_column",
    [
        ("  g = hh -> maxpool(2)", 7),  # the head of a chain
        ("  g = add(h, hh)", 14),  # an operand of a merge
        ("  g = concat(hh, h)", 14),
    ],
)
def test_unknown_tensor_name_points_at_the_name(spec_file, line, under_column):
    analysis, diags = check(spec_file, net(f"  h = x -> conv(8, 3)\n{line}\n  g -> output y"))
    diag = only(diags, "E0102")
    assert diag.message == "unknown name `hh`"
    assert (diag.span.line, diag.span.column) == (4, under_column)
    assert diag.help == "did you mean `h`?"
    assert_caret_under(analysis, diag, "hh")
    assert not [d for d in diags if d.code == "E0207"], [d.message for d in diags]


def test_unknown_name_suggests_a_tensor_before_a_parameter(spec_file):
    text = "network N(features: int = 8) {\n  input x: 8x8x1\n  feature = x -> conv(features, 3)\n"
    text += "  featurse -> relu -> output y\n}\n"
    analysis, diags = check(spec_file, text)
    diag = only(diags, "E0102")
    assert diag.message == "unknown name `featurse`"
    assert diag.help == "did you mean `feature`?"
    assert (diag.span.line, diag.span.column) == (4, 3)


def test_an_op_at_the_head_of_a_chain_needs_an_input(spec_file):
    analysis, diags = check(spec_file, net("  g = relu -> maxpool(2)\n  g -> output y"))
    diag = only(diags, "E0209")
    assert diag.message == "`relu` needs an input"
    assert diag.help == "a chain starts with a tensor: `x -> relu`"
    assert_caret_under(analysis, diag, "relu")


def test_no_internal_class_name_in_a_kind_error(spec_file):
    analysis, diags = check(spec_file, net("  n = 3\n  g = add(x, n)\n  g -> output y"))
    diag = only(diags, "E0207")
    assert diag.message == "`add` takes tensors, got an int"
    assert_caret_under(analysis, diag, "n")


# --- --input that changes an input's rank ------------------------------------------------------------


def test_input_override_of_another_rank_names_the_declared_rank(spec_file):
    path = spec_file(net("  x -> conv(8, 3) -> output y", shape="32x32x1"))
    analysis = analyze(path, input_shapes={None: (64, 64)})
    diag = only(analysis.diagnostics, "E0220")
    assert diag.message == "--input gives `x` rank 2 (64x64), but the spec declares rank 3 (32x32x1)"
    assert (diag.span.line, diag.span.column) == (2, 12)
    assert diag.help == "give all 3 sizes, e.g. `--input 64x64x1`"
    assert_caret_under(analysis, diag, "32x32x1")
    assert len(analysis.diagnostics) == 1  # no follow-up errors about the missing input


def test_input_override_of_the_same_rank_is_accepted(spec_file):
    analysis = analyze(
        spec_file(net("  x -> conv(8, 3) -> output y", shape="32x32x1")), input_shapes={"x": (64, 64, 1)}
    )
    assert analysis.ok
    assert tuple(analysis.graph.node("x").shape) == (64, 64, 1)


def test_a_shape_parameter_says_the_rank_may_change(spec_file):
    text = "network N(shape: shape = 32x32x1) {\n  input x: shape\n  x -> conv(8, 3) -> output y\n}\n"
    analysis = analyze(spec_file(text), input_shapes={None: (64, 1)})
    assert analysis.ok, [d.message for d in analysis.diagnostics]


# --- names are ASCII; look-alike characters are named -------------------------------------------------


@pytest.mark.parametrize(
    "line, code, message, help_, column",
    [
        (
            "  h\u043e = x -> conv(8, 3)",
            "E0222",
            "`\u043e` (U+043E CYRILLIC SMALL LETTER O) looks like `o`",
            "write `o`",
            4,
        ),
        (
            "  caf\u00e9 = x -> conv(8, 3)",
            "E0221",
            "names are ASCII: `\u00e9` (U+00E9 LATIN SMALL LETTER E WITH ACUTE) is not",
            "write `e`",
            6,
        ),
        (
            "  \u03b1 = x -> conv(8, 3)",
            "E0222",
            "`\u03b1` (U+03B1 GREEK SMALL LETTER ALPHA) looks like `a`",
            "write `a`",
            3,
        ),
        (
            "  \u5c42 = x -> conv(8, 3)",
            "E0221",
            "names are ASCII: `\u5c42` (U+5C42 CJK UNIFIED IDEOGRAPH-5C42) is not",
            None,
            3,
        ),
        ("  h = x \u2192 conv(8, 3)", "E0222", "`\u2192` (U+2192 RIGHTWARDS ARROW) looks like `->`", "write `->`", 9),
        (
            "  h = x -> conv(8,\u00a03)",
            "E0222",
            "`\u00a0` (U+00A0 NO-BREAK SPACE) looks like a plain space",
            "write a plain space",
            19,
        ),
        (
            "  h = x -> conv(8, 3) \U0001f600",
            "E0001",
            "unexpected character `\U0001f600` (U+1F600 GRINNING FACE)",
            None,
            23,
        ),
    ],
)
def test_non_ascii_characters_are_named(spec_file, line, code, message, help_, column):
    analysis, diags = check(spec_file, net(f"{line}\n  x -> output y"))
    diag = only(diags, code)
    assert diag.message == message
    assert diag.help == help_
    assert (diag.span.line, diag.span.column) == (3, column)
    assert_caret_under(analysis, diag, line[column - 1])


def test_shape_written_with_a_multiplication_sign(spec_file):
    analysis, diags = check(spec_file, net("  x -> output y", shape="32\u00d732x3"))
    diag = only(diags, "E0222")
    assert diag.message == "`\u00d7` (U+00D7 MULTIPLICATION SIGN) looks like `x`"
    assert (diag.span.line, diag.span.column) == (2, 14)


def test_non_ascii_in_strings_and_comments_is_fine(spec_file):
    analysis, _ = check(spec_file, net('  # caf\u00e9 \u2192 \u043e\n  assert true, "\u00e9t\u00e9"\n  x -> output y'))
    assert analysis.ok, [d.message for d in analysis.diagnostics]


def test_input_of_another_rank_on_the_command_line(spec_file, capsys):
    path = spec_file(net("  x -> conv(8, 3) -> output y", shape="32x32x1"))
    assert main(["check", str(path), "--input", "64x64"]) == 1
    err = capsys.readouterr().err
    assert "error[E0220]: --input gives `x` rank 2 (64x64), but the spec declares rank 3 (32x32x1)" in err
    assert "2 |   input x: 32x32x1\n  |            ^^^^^^^" in err
    assert err.rstrip().endswith("1 error emitted")


def test_an_import_path_with_a_nul_character_is_an_import_error(spec_file):
    analysis, diags = check(spec_file, 'import "a\\x00b.cnn"\n' + net("  x -> output y"))
    diag = only(diags, "E0404")
    assert diag.message == "cannot import this path: the path contains a NUL character"
    assert (diag.span.line, diag.span.column) == (1, 1)
