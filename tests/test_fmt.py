"""`cnnc fmt`'s core: the layout rules, idempotence and meaning kept over the whole library.

- unit cases with the exact expected text for each rule (comments, blank lines, wrapping);
- every spec in specs/ and specs/lib/, the stdlib and every example of docs/language.md:
  formatting twice changes nothing, and the formatted library analyses to the same IR;
- the fuzzers' specs (generated and mutated, tests/test_fuzz.py) that parse stay parseable.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fuzz import FUZZ, SMALL_SEEDS, mutation, network

from cnnc.cli import main
from cnnc.compiler import analyze
from cnnc.diagnostics import CnncError
from cnnc.expand import loader
from cnnc.syntax.fmt import format_source

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = sorted((ROOT / "specs").glob("*.cnn")) + sorted((ROOT / "specs" / "lib").glob("*.cnn"))
STDLIB = ROOT / "cnnc" / "stdlib" / "blocks.cnn"
DOC = (ROOT / "docs" / "language.md").read_text()
DOC_EXAMPLES = [
    (DOC[: m.start()].count("\n") + 1, m.group(1), m.group(2))
    for m in re.finditer(r"^```cnn(?:-error ([EWN]\d{4}))?\n(.*?)^```$", DOC, re.M | re.S)
]


def fmt(text: str) -> str:
    return format_source(text, "t.cnn")


# --- the rules, one case each ----------------------------------------------------------


def test_spacing_indentation_and_one_statement_per_line():
    source = (
        "network  N( a:int=3 ,b = 2, ) {input x:8x8x3 ;h=x->conv( a*b,3,padding = same )\nx->relu->output  y; output h}"
    )
    assert fmt(source) == (
        "network N(a: int = 3, b=2) {\n"
        "  input x: 8x8x3\n"
        "  h = x -> conv(a * b, 3, padding=same)\n"
        "  x -> relu -> output y\n"
        "  output h\n"
        "}\n"
    )


def test_parentheses_are_kept_and_trailing_commas_dropped_but_a_one_tuple_s():
    source = "A = ((1 + 2) * 3, [4, 5,], (6,))\nB = (A)\n"
    assert fmt(source) == "A = ((1 + 2) * 3, [4, 5], (6,))\nB = (A)\n"


def test_comments_own_line_and_trailing_are_kept():
    source = (
        "# header\n\n\n\n# about N\nnetwork N() {   # opens\n"
        "      # the input\n  input x: 8x8x3 # shape\n  x -> relu       -> output y   # out\n\n"
        "  # last words\n}\n# the end\n"
    )
    assert fmt(source) == (
        "# header\n\n# about N\nnetwork N() {  # opens\n"
        "  # the input\n  input x: 8x8x3  # shape\n  x -> relu -> output y  # out\n\n"
        "  # last words\n}\n# the end\n"
    )


def test_trailing_comments_the_author_lined_up_stay_lined_up():
    source = (
        "network N() {\n  input x: 8x8x3\n"
        "  a = x -> conv(8, 3)      # lined up\n"
        "  b = a -> relu -> conv(8, 1) -> relu    # alone\n"
        "  c = b ->    relu         # lined up, across a line\n"
        "\n"
        "  c -> output y            # a new paragraph\n}\n"
    )
    assert fmt(source) == (
        "network N() {\n  input x: 8x8x3\n"
        "  a = x -> conv(8, 3)  # lined up\n"
        "  b = a -> relu -> conv(8, 1) -> relu  # alone\n"
        "  c = b -> relu        # lined up, across a line\n"
        "\n"
        "  c -> output y  # a new paragraph\n}\n"
    )


def test_chains_keep_the_authors_breaks_aligned_under_the_first_arrow():
    source = (
        "network N() {\n input x: 8x8x3\n h = x -> conv(4, 3) ->\n batchnorm -> relu\n"
        "     -> conv(4, 3)   # a comment between steps\n  -> relu\n h -> output y }\n"
    )
    assert fmt(source) == (
        "network N() {\n  input x: 8x8x3\n  h = x -> conv(4, 3)\n"
        "        -> batchnorm -> relu\n        -> conv(4, 3)  # a comment between steps\n"
        "        -> relu\n  h -> output y\n}\n"
    )


def test_a_long_chain_wraps_before_the_arrow_that_would_pass_120_columns():
    steps = " -> ".join(f"conv({i}, 3, padding=same)" for i in range(1, 9))
    row = " -> ".join(f"conv({i}, 3, padding=same)" for i in range(5, 9))
    assert fmt(f"network N() {{ input x: 8x8x3\n  x -> {steps} -> output y }}\n") == (
        "network N() {\n  input x: 8x8x3\n"
        "  x -> conv(1, 3, padding=same) -> conv(2, 3, padding=same) -> conv(3, 3, padding=same)"
        " -> conv(4, 3, padding=same)\n"
        f"    -> {row}\n    -> output y\n}}\n"
    )


def test_long_argument_lists_wrap_after_a_comma_under_the_first_argument():
    params = ", ".join(f"parameter{i}: int = {i}" for i in range(8))
    out = fmt(f"block b({params}) {{ return in }}\n")
    assert out == (
        "block b(parameter0: int = 0, parameter1: int = 1, parameter2: int = 2, parameter3: int = 3,"
        " parameter4: int = 4,\n        parameter5: int = 5, parameter6: int = 6, parameter7: int = 7)"
        " { return in }\n"
    )


def test_bodies_if_else_for_and_repeat():
    source = (
        "block b(a: int) {\n if a == 1 { h = in -> relu } else if a == 2 {h = in -> tanh}\n"
        " else {\n h = in\n h = h -> relu }\n for i in range(2) { h = h -> relu }\n"
        " repeat a - 1 { }\n return h }\n"
    )
    assert fmt(source) == (
        "block b(a: int) {\n  if a == 1 { h = in -> relu }\n  else if a == 2 { h = in -> tanh }\n"
        "  else {\n    h = in\n    h = h -> relu\n  }\n  for i in range(2) { h = h -> relu }\n"
        "  repeat a - 1 {}\n  return h\n}\n"
    )


def test_an_else_follows_a_multi_line_body_on_its_line():
    source = "block b(a: int) {\n if a == 1 {\n  return in\n }\n else { return in -> relu }\n}\n"
    assert fmt(source) == "block b(a: int) {\n  if a == 1 {\n    return in\n  } else { return in -> relu }\n}\n"


def test_one_blank_line_between_definitions_and_never_more_than_one():
    source = (
        'import "a.cnn"\nK = 3\n\n\n\nL = 4\nblock b() { return in }\nnetwork N() {\n\n\n'
        " input x: 8x8x3\n\n\n\n x -> b -> output y\n\n}\n"
    )
    assert fmt(source) == (
        'import "a.cnn"\nK = 3\n\nL = 4\n\nblock b() { return in }\n\nnetwork N() {\n'
        "  input x: 8x8x3\n\n  x -> b -> output y\n}\n"
    )


def test_a_spec_nested_beyond_the_stack_is_refused_as_check_refuses_it():
    with pytest.raises(CnncError) as err:
        fmt("K = " + "(" * 5000 + "1" + ")" * 5000 + "\n")
    assert [(d.code, d.message) for d in err.value.diagnostics] == [("E0601", "the spec nests too deeply to format")]


def test_a_syntax_error_is_a_diagnostic():
    with pytest.raises(CnncError) as err:
        fmt("network N( {")
    assert err.value.diagnostics[0].code == "E0001"


# --- the whole library -------------------------------------------------------------------


@pytest.mark.parametrize("path", LIBRARY + [STDLIB], ids=lambda p: p.name)
def test_formatting_the_library_is_idempotent(path):
    once = format_source(path.read_text(), str(path))
    assert format_source(once, str(path)) == once


@pytest.mark.parametrize("line,code,text", DOC_EXAMPLES, ids=[f"line{e[0]}" for e in DOC_EXAMPLES])
def test_formatting_the_docs_examples_is_idempotent(line, code, text):
    try:
        once = fmt(text)
    except CnncError as exc:  # a ```cnn-error example of a syntax error has nothing to format
        assert exc.diagnostics[0].code == "E0001", f"docs/language.md:{line}"
        return
    assert fmt(once) == once


def _ir(path: Path) -> tuple:
    """Everything the IR says about a network, except where in the source it came from."""
    analysis = analyze(path)
    assert analysis.ok, path
    graph = analysis.graph
    nodes = [
        (
            n.id,
            n.op.name,
            n.attrs.model_dump(),
            n.frozen,
            n.shares,
            n.bindings,
            graph.input_ids(n.id),
            n.shape,
            n.params,
            n.macs,
            n.receptive_field,
        )
        for n in graph.topological()
    ]
    return graph.name, graph.inputs, graph.outputs, list(graph.params.items()), nodes, analysis.cost


def _formatted_copy(tmp_path: Path) -> Path:
    """specs/ and the stdlib, every file formatted, in a folder of their own."""
    for path in LIBRARY + [STDLIB]:
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(format_source(path.read_text(), str(path)))
    return tmp_path


def test_the_formatted_library_analyses_to_the_same_ir(tmp_path, monkeypatch):
    copy = _formatted_copy(tmp_path)
    specs = sorted((ROOT / "specs").glob("*.cnn"))
    before = {p.name: _ir(p) for p in specs}
    monkeypatch.setattr(loader, "STDLIB", copy / "cnnc" / "stdlib")
    loader._parse_cached.cache_clear()
    after = {p.name: _ir(copy / "specs" / p.name) for p in specs}
    loader._parse_cached.cache_clear()
    assert len(after) == len(specs) == 44  # the library, keras_ and torchvision_ variants included
    for name in before:
        assert after[name] == before[name], name


def test_the_formatted_docs_examples_analyse_to_the_same_ir(tmp_path):
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    (tmp_path / "docs").mkdir()
    analysable = [(line, text) for line, code, text in DOC_EXAMPLES if code is None or code.startswith("W")]
    for line, text in analysable:
        original, formatted = tmp_path / "docs" / "a.cnn", tmp_path / "docs" / "b.cnn"
        original.write_text(text)
        formatted.write_text(fmt(text))
        assert _ir(formatted)[1:] == _ir(original)[1:], f"docs/language.md:{line}"
    assert len(analysable) >= 19


# --- fuzzed specs ----------------------------------------------------------------------------


def _stays_parseable(text: str) -> None:
    try:
        once = fmt(text)
    except CnncError:
        return  # not a spec that parses: nothing to format
    assert fmt(once) == once  # format_source itself checks the AST and the comments are kept


@settings(FUZZ, max_examples=300)
@given(network())
def test_generated_networks_stay_parseable(case):
    _stays_parseable(case[0])


@settings(FUZZ, max_examples=300)
@given(st.data())
def test_mutated_specs_stay_parseable(data):
    _path, text = data.draw(st.sampled_from(SMALL_SEEDS))
    _stays_parseable(data.draw(mutation(text)))


# --- the repository is formatted ----------------------------------------------------------

REPOSITORY_SPECS = sorted(
    p
    for p in ROOT.rglob("*.cnn")
    if not any(part.startswith(".") or part == "build" for part in p.relative_to(ROOT).parts)
)
MARKDOWN = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]


def test_fmt_check_passes_on_every_spec_in_the_repository(capsys):
    assert len(REPOSITORY_SPECS) >= 54
    assert main(["fmt", "--check", *map(str, REPOSITORY_SPECS)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("doc", MARKDOWN, ids=lambda p: p.name)
def test_every_cnn_example_in_the_docs_is_formatted(doc):
    text = doc.read_text()
    unformatted = []
    for match in re.finditer(r"^```cnn(?:-error [EWN]\d{4})?\n(.*?)^```$", text, re.M | re.S):
        try:
            if fmt(match.group(1)) != match.group(1):
                unformatted.append(text[: match.start()].count("\n") + 1)
        except CnncError:
            pass  # an example of a syntax error
    assert unformatted == [], f"{doc.name}: examples at lines {unformatted} are not in fmt's layout"


# --- the command line ---------------------------------------------------------------------

UNFORMATTED = "network N() { input x: 8x8x3\n  x->relu->output y }\n"
FORMATTED = "network N() {\n  input x: 8x8x3\n  x -> relu -> output y\n}\n"


def test_fmt_check_exits_1_and_writes_nothing(spec_file, capsys):
    path, clean = spec_file(UNFORMATTED), spec_file(FORMATTED, "clean.cnn")
    assert main(["fmt", "--check", str(path), str(clean)]) == 1
    assert capsys.readouterr().err == f"would reformat {path}\n"
    assert path.read_text() == UNFORMATTED
    assert main(["fmt", "--check", str(clean)]) == 0


def test_fmt_diff_prints_the_change_and_writes_nothing(spec_file, capsys):
    path = spec_file(UNFORMATTED)
    assert main(["fmt", "--diff", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:3] == [f"--- {path} (original)", f"+++ {path} (formatted)", "@@ -1,2 +1,4 @@"]
    assert out.endswith(
        "-network N() { input x: 8x8x3\n-  x->relu->output y }\n"
        "+network N() {\n+  input x: 8x8x3\n+  x -> relu -> output y\n+}\n"
    )
    assert path.read_text() == UNFORMATTED


def test_fmt_rewrites_in_place(spec_file, capsys):
    path = spec_file(UNFORMATTED)
    assert main(["fmt", str(path)]) == 0
    assert path.read_text() == FORMATTED
    assert capsys.readouterr().err == f"reformatted {path}\n"
    assert main(["fmt", str(path)]) == 0
    assert capsys.readouterr().err == ""


def test_fmt_reports_a_syntax_error_and_an_unreadable_file(spec_file, tmp_path, capsys):
    assert main(["fmt", str(spec_file("network N( {\n"))]) == 1
    assert "error[E0001]: unexpected `{`" in capsys.readouterr().err
    assert main(["fmt", str(tmp_path / "missing.cnn")]) == 2


def test_fmt_formats_standard_input(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(UNFORMATTED))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == FORMATTED
