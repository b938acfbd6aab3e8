"""N0001: input rows and columns that no window reads; `cnnc check --strict` refuses it."""

from __future__ import annotations

import pytest
from test_diagnostics import assert_caret_under, check, net, only

from cnnc.cli import main


def test_strided_stem_that_drops_a_row_gets_a_note(spec_file):
    analysis, diags = check(spec_file, net("  x -> conv(96, 11, stride=4) -> output y", shape="224x224x3"))
    diag = only(diags, "N0001")
    assert diag.level == "note" and analysis.ok
    assert diag.message == "`conv1` never reads the last 1 row and 1 column of its input"
    assert diag.notes == [
        "rows and columns: (n + 2p - f) / s + 1 = (224 + 2*0 - 11) / 4 + 1 = 54.25, "
        "so 54 windows reading 1 to (54 - 1) * 4 + 11 = 223 of 224"
    ]
    assert (diag.span.line, diag.span.column) == (3, 8)
    assert_caret_under(analysis, diag, "conv(96, 11, stride=4)")


def test_each_axis_gets_its_own_arithmetic(spec_file):
    analysis, diags = check(spec_file, net("  h = x -> maxpool(2)\n  h -> output y", shape="61x29x4"))
    diag = only(diags, "N0001")
    assert diag.message == "`h` never reads the last 1 row and 1 column of its input"
    assert diag.notes == [
        "rows: (n + 2p - f) / s + 1 = (61 + 2*0 - 2) / 2 + 1 = 30.5, "
        "so 30 windows reading 1 to (30 - 1) * 2 + 2 = 60 of 61",
        "columns: (n + 2p - f) / s + 1 = (29 + 2*0 - 2) / 2 + 1 = 14.5, "
        "so 14 windows reading 1 to (14 - 1) * 2 + 2 = 28 of 29",
    ]
    assert_caret_under(analysis, diag, "maxpool(2)")


def test_explicit_padding_is_in_the_arithmetic(spec_file):
    analysis, diags = check(spec_file, net("  x -> conv(8, 3, stride=3, padding=1) -> output y", shape="12x12x1"))
    diag = only(diags, "N0001")
    assert diag.message == "`conv1` never reads the last 1 row and 1 column of its input"
    assert diag.notes == [
        "rows and columns: (n + 2p - f) / s + 1 = (12 + 2*1 - 3) / 3 + 1 = 4.667, "
        "so 4 windows reading 1 to (4 - 1) * 3 + 3 - 1 = 11 of 12"
    ]


@pytest.mark.parametrize(
    "body, shape",
    [
        ("  x -> conv(96, 11, stride=4) -> output y", "227x227x3"),  # AlexNet's 227: (227 - 11) / 4 + 1 = 55 exactly
        ("  x -> conv(8, 3, stride=2, padding=same) -> output y", "224x224x3"),  # `same` reaches the end
        ("  x -> conv(8, 1, stride=2) -> output y", "56x56x3"),  # narrower than its stride: gaps by design
        ("  x -> zeropad(3) -> conv(8, 7, stride=2) -> output y", "224x224x3"),  # the unread row is the zeropad's
        ("  x -> maxpool(3, stride=2, padding=1) -> output y", "112x112x3"),
    ],
)
def test_windows_that_read_everything_get_no_note(spec_file, body, shape):
    analysis, diags = check(spec_file, net(body, shape=shape))
    assert analysis.ok and diags == [], [d.message for d in diags]


def test_check_strict_turns_notes_into_errors(spec_file, capsys):
    path = spec_file(net("  x -> conv(96, 11, stride=4) -> output y", shape="224x224x3"))
    assert main(["check", str(path)]) == 0
    assert "note[N0001]" in capsys.readouterr().err
    assert main(["check", "--strict", str(path)]) == 1
    captured = capsys.readouterr()
    assert "error[N0001]: `conv1` never reads the last 1 row and 1 column of its input" in captured.err
    assert "`--strict` makes this note an error" in captured.err
    assert captured.err.rstrip().endswith("1 error emitted") and captured.out == ""


def test_check_strict_turns_warnings_into_errors(spec_file, capsys):
    path = spec_file(net("  spare = x -> conv(4, 1)\n  x -> relu -> output y"))
    assert main(["check", str(path)]) == 0
    assert main(["check", "--strict", str(path)]) == 1
    assert "error[W0501]: value `spare` is never used" in capsys.readouterr().err


def test_summary_json_lists_notes_apart_from_warnings(spec_file, capsys):
    import json

    path = spec_file(net("  x -> conv(96, 11, stride=4) -> output y", shape="224x224x3"))
    assert main(["summary", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["warnings"] == [] and captured.err == ""
    assert [(n["level"], n["code"], n["line"], n["column"]) for n in report["notes"]] == [("note", "N0001", 3, 8)]
