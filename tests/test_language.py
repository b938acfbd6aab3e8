"""Language features end to end: parameters, blocks, control flow, imports."""

from __future__ import annotations

from cnnc.compiler import analyze


def out_shape(analysis, name: str = "y"):
    assert analysis.ok, [(d.code, d.message) for d in analysis.diagnostics]
    return analysis.graph.node(analysis.graph.outputs[name]).shape


def test_arithmetic_conditionals_and_indexing(spec_file):
    text = """network A(k: int = 3, big: bool = false) {
  input x: 16x16x2
  widths = [8, 16, 32]
  c = big ? widths[2] : widths[-1] // 4
  h = x -> conv(c * 2 + 1, k, padding=(k - 1) // 2)
  if h.c > 16 and not big { h = h -> conv(4, 1) } else { h = h -> relu }
  h -> output y
}
"""
    path = spec_file(text)
    assert out_shape(analyze(path)) == (16, 16, 4)  # c = 32 // 4 = 8, 17 channels > 16: the 1x1 conv
    assert out_shape(analyze(path, overrides={"big": True})) == (16, 16, 65)  # c = 32: relu only


def test_for_loops_with_destructuring_and_index(spec_file):
    text = """network L() {
  input x: 32x32x3
  h = x
  for (c, s) in [(8, 1), (16, 2), (32, 2)] { h = h -> conv(c, 3, stride=s, padding=1) }
  for i in range(3) { h = h -> conv(h.c + 4 * i, 1) }
  h -> output y
}
"""
    assert out_shape(analyze(spec_file(text))) == (8, 8, 44)


def test_repeat_statement_and_step_repetition(spec_file):
    text = """network R(n: int = 3) {
  input x: 8x8x4
  h = x -> conv(4, 3, padding=same) * n
  repeat n - 1 { h = h -> maxpool(2, stride=1, padding=same) }
  h -> output y
}
"""
    analysis = analyze(spec_file(text))
    assert out_shape(analysis) == (8, 8, 4)
    assert [n.op.name for n in analysis.graph.topological()].count("conv") == 3
    assert analysis.graph.params["n"].structural is True


def test_block_reads_its_input_shape_and_defaults(spec_file):
    text = """block widen(factor: int = 2, extra: int = factor + 1) {
  return in -> conv(in.c * factor + extra, 1)
}
network W() {
  input x: 4x4x5
  x -> widen -> widen(factor=3) -> output y
}
"""
    assert out_shape(analyze(spec_file(text))) == (4, 4, 3 * 13 + 4)


def test_layer_names_follow_blocks_and_aliases(spec_file):
    text = """block unit(c: int) {
  return in -> conv(c, 3, padding=1) as conv -> relu
}
network N() {
  input x: 8x8x1
  x -> unit(4) as stem -> unit(4) * 2 -> output y
}
"""
    ids = [n.id for n in analyze(spec_file(text)).graph.topological()]
    assert ids == ["x", "stem.conv", "stem.relu1", "unit1.conv", "unit1.relu1", "unit2.conv", "unit2.relu1"]


def test_imports_and_constants(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.cnn").write_text(
        "WIDTH = 6\nblock stem(c: int = WIDTH) {\n  return in -> conv(c, 3, padding=same) -> relu\n}\n")
    main = tmp_path / "net.cnn"
    main.write_text('import "lib/blocks.cnn"\nnetwork N() {\n  input x: 8x8x3\n  x -> stem -> output y\n}\n')
    assert out_shape(analyze(main)) == (8, 8, 6)


def test_missing_import_is_reported_at_the_import(tmp_path):
    main = tmp_path / "net.cnn"
    main.write_text('import "nope.cnn"\nnetwork N() {\n  input x: 8x8x3\n  x -> output y\n}\n')
    diags = analyze(main).diagnostics
    assert [(d.code, d.span.line) for d in diags] == [("E0404", 1)]
    assert diags[0].message == "cannot import `nope.cnn`: no such file or directory"


def test_import_cycles_are_harmless(tmp_path):
    (tmp_path / "a.cnn").write_text('import "b.cnn"\nblock a1() {\n  return in -> relu\n}\n')
    (tmp_path / "b.cnn").write_text('import "a.cnn"\nblock b1() {\n  return in -> a1\n}\n')
    main = tmp_path / "net.cnn"
    main.write_text('import "a.cnn"\nnetwork N() {\n  input x: 8x8x3\n  x -> b1 -> output y\n}\n')
    assert out_shape(analyze(main)) == (8, 8, 3)


def test_a_block_defined_twice(tmp_path):
    main = tmp_path / "net.cnn"
    main.write_text("block b() {\n  return in\n}\nblock b() {\n  return in\n}\n"
                    "network N() {\n  input x: 2x2x1\n  x -> b -> output y\n}\n")
    diag = analyze(main).diagnostics[0]
    assert (diag.code, diag.message, diag.span.line, diag.labels[0].span.line) == (
        "E0405", "block `b` is defined twice", 4, 1)


def test_user_blocks_replace_stdlib_blocks(spec_file):
    text = "block fire(a: int) {\n  return in -> conv(a, 1)\n}\n" \
           "network N() {\n  input x: 8x8x3\n  x -> fire(5) -> output y\n}\n"
    assert out_shape(analyze(spec_file(text))) == (8, 8, 5)


def test_several_inputs_and_outputs(spec_file):
    text = """network M() {
  input image: 32x32x3
  input meta: 10
  f = image -> conv(8, 3, stride=2, padding=1) -> global_avgpool
  joined = concat(f, meta -> dense(8))
  joined -> dense(1) -> sigmoid -> output score
  f -> dense(4) -> output aux
}
"""
    analysis = analyze(spec_file(text))
    assert out_shape(analysis, "score") == (1,) and out_shape(analysis, "aux") == (4,)
    assert list(analysis.graph.inputs) == ["image", "meta"]


def test_type_errors_in_expressions(spec_file):
    text = """network T() {
  input x: 8x8x3
  a = "s" * 2
  b = x.q
  c = x + 1
  x -> output y
}
"""
    diags = analyze(spec_file(text)).diagnostics
    assert [(d.code, d.message) for d in diags if d.is_error] == [
        ("E0207", "cannot apply `*` to a string"),
        ("E0102", "a rank-2 value has no `.q`"),
        ("E0207", "cannot apply `+` to a tensor"),
    ]


def test_block_argument_checks(spec_file):
    text = """block b(c: int) {
  return in -> conv(c, 1)
}
network T() {
  input x: 8x8x3
  x -> b(2.5) -> b(c=2, d=3) -> b -> output y
}
"""
    diags = analyze(spec_file(text)).diagnostics
    assert [(d.code, d.message) for d in diags] == [("E0201", "`c` expects int, got float 2.5")]


def test_block_without_return(spec_file):
    text = "block b() {\n  h = in -> relu\n}\nnetwork T() {\n  input x: 8x8x3\n  x -> b -> output y\n}\n"
    diags = analyze(spec_file(text)).diagnostics
    assert [(d.code, d.span.line) for d in diags] == [("E0503", 1)]


def test_assert_checks_parameters(spec_file):
    text = """network V(variant: int = 0) {
  assert variant >= 0 and variant <= 7, "variant is 0 (B0) to 7 (B7)"
  input x: 8x8x3
  x -> output y
}
"""
    path = spec_file(text)
    assert analyze(path).ok
    diag = analyze(path, overrides={"variant": 9}).diagnostics[0]
    assert (diag.code, diag.message, diag.span.line) == ("E0504", "variant is 0 (B0) to 7 (B7)", 2)


def test_automatic_names_after_a_digit(spec_file):
    text = "network N() {\n  input x: 4x4x1\n  x -> relu6 -> relu6 -> output y\n}\n"
    assert [n.id for n in analyze(spec_file(text)).graph.topological()] == ["x", "relu6_1", "relu6_2"]
