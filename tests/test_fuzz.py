"""Fuzzing the front end: every spec ends in a result or a diagnostic, never a traceback or a hang.

Three sources of input, all deterministic (`derandomize=True`):
- a grammar-based generator of networks (random ops, attributes, shapes, blocks, loops, merges,
  shared weights, `--set` overrides), mostly sensible so the deep passes run, sometimes wild;
- token- and byte-level mutations of the shipped specs, the language reference's examples and
  the generated networks: deletions, duplications, swaps, interesting numbers (0, negatives,
  huge values, `repeat 1000000000`), deep nesting, long chains;
- the regression cases at the end, each a crash that fuzzing found.

The default run feeds 2,100 specs; `-m slow` adds 3,000 more mutations of the large shipped specs.
"""

from __future__ import annotations

import json
import re
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnc.cli import parse_value
from cnnc.compiler import Analysis, analyze
from cnnc.diagnostics import CnncError, render_all
from cnnc.expand.values import BUILTINS
from cnnc.ir.ops import ALIASES, OPS
from cnnc.report import summary_json, summary_table

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "tests" / "generated.cnn"  # never written: only its folder matters (imports)
# A generous bound: typical specs take milliseconds; the largest network cnnc accepts takes
# seconds on a loaded 2-core machine, and the generator below stays far smaller.
LIMIT_S = 5.0


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    def fire(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_spec(text: str, path: Path = GENERATED, overrides: dict | None = None,
               input_shapes: dict | None = None) -> Analysis | None:
    """Analyse like `cnnc summary` does; fail on any exception but a diagnostic, or on a hang."""
    start = time.perf_counter()
    with time_limit(LIMIT_S):
        try:
            analysis = analyze(path, text, overrides=overrides, input_shapes=input_shapes)
        except CnncError as exc:  # allowed, though analyze reports instead of raising
            assert exc.diagnostics
            return None
        render_all(analysis.diagnostics, analysis.sources)
        for diag in analysis.diagnostics:
            assert re.fullmatch(r"[EW]\d{4}", diag.code), diag
            json.dumps(diag.to_json())
        if analysis.ok:
            json.dumps(summary_json(analysis))
            summary_table(analysis)
        else:
            assert any(d.is_error for d in analysis.diagnostics), "failed without an error diagnostic"
    elapsed = time.perf_counter() - start
    assert elapsed < LIMIT_S, f"took {elapsed:.1f} s"
    return analysis


FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

# --- vocabulary -------------------------------------------------------------------

OP_NAMES = sorted(name for name in OPS if name != "input") + sorted(ALIASES)
STDLIB_TEXT = (ROOT / "cnnc" / "stdlib" / "blocks.cnn").read_text()
STDLIB_BLOCKS = re.findall(r"^block (\w+)", STDLIB_TEXT, re.M)
ATTRIBUTES = sorted({f for op in OPS.values() for f in op.attrs.model_fields if f != "name"} | {"frozen"})
KEYWORDS = ["network", "block", "input", "output", "return", "if", "else", "for", "in", "repeat", "shared", "as",
            "import", "true", "false", "and", "or", "not"]
SYMBOLS = ["same", "valid", "nearest", "bilinear", "sobel_x", "scharr_y", "vertical", "foo"]
PUNCTUATION = ["->", "(", ")", "{", "}", "[", "]", ",", ":", "=", ";", ".", "*", "**", "+", "-", "/", "//", "%",
               "?", "<", ">", "==", "!=", "\n", " x ", "#"]
WILD_NUMBERS = ["0", "-1", "1", "2", "3", "7", "1000", "65536", "1000000000", "4611686018427387904",
                "9223372036854775808", "99999999999999999999999999999", "0.0", "0.5", "1.5", "-0.5", "1e-5",
                "1e308", "1e400", ".5", "100000"]
NAMES = OP_NAMES + STDLIB_BLOCKS + ATTRIBUTES + KEYWORDS + SYMBOLS + sorted(BUILTINS) + ["x", "h", "y", "in", "p"]

# --- a grammar-based generator of networks ------------------------------------------

SANE = {
    "filters": ["1", "4", "8", "16", "p", "h.c", "2 * p"], "units": ["1", "10", "p", "h.c"],
    "kernel": ["1", "2", "3", "5", "(3, 1)", "(1, 3)", "(2, 2, 2)"], "size": ["1", "2", "3", "(2, 2)"],
    "stride": ["1", "2", "3", "(2, 1)"], "padding": ["valid", "same", "0", "1", "2", "(1, 1)", "((0, 1), (1, 0))"],
    "dilation": ["1", "2"], "groups": ["1", "2", "4"], "multiplier": ["1", "2"], "bias": ["true", "false"],
    "output_padding": ["0", "1"], "ceil": ["true", "false"], "keepdims": ["true", "false"], "scale": ["2", "(2, 1)"],
    "mode": ["nearest", "bilinear"], "momentum": ["0.1", "0.01"], "epsilon": ["1e-5", "0.001"],
    "center": ["true", "false"], "alpha": ["0.01", "0.2", "1.0"], "beta": ["0.75"], "k": ["2.0", "1"],
    "rate": ["0.1", "0.5", "0.0"], "cropping": ["1", "(1, 2)", "((1, 0), (0, 1))"], "shape": ["[-1]", "[4, -1]"],
    "axis": ["-1", "0", "1"], "pieces": ["2", "3"], "frozen": ["true", "false"],
    "weights": ["sobel_x", "vertical", "[[1, 0], [0, -1]]"],
}
WILD = WILD_NUMBERS + ["true", "same", "bilinear", "foo", '"s"', "(1, 2)", "((1, 2), (3, 4))", "[]", "(0,)",
                       "[[1]]", "x", "in.c", "h.shape", "p // 0", "2 ** 100", "range(3)", "len(h.shape)",
                       "min(p, 3)", "make_divisible(p * 1.5)", "round_filters(p, 1.2)", "round_repeats(p, 2.5)",
                       "float(\"nan\")", "h.spatial[0]", "-p", "p > 2 ? 3 : 1", "not true", "sqrt(p)"]


def value_for(draw, attr: str) -> str:
    if attr in SANE and draw(st.integers(0, 9)) < 8:
        return draw(st.sampled_from(SANE[attr]))
    return draw(st.sampled_from(WILD))


def call_text(draw, name: str) -> str:
    op = OPS.get(ALIASES.get(name, name))
    if op is None:
        return name
    fields = [f for f in op.attrs.model_fields if f != "name"]
    positional = [value_for(draw, a) for a in op.positional[:draw(st.integers(0, len(op.positional)))]]
    required = [f for f, info in op.attrs.model_fields.items() if info.is_required() and f != "name"]
    keywords = [f for f in required if f not in op.positional[:len(positional)]]
    if fields and draw(st.booleans()):
        keywords += draw(st.lists(st.sampled_from(fields + ["frozen", "bogus"]), max_size=3, unique=True))
    args = positional + [f"{k}={value_for(draw, k)}" for k in dict.fromkeys(keywords)]
    if not args and draw(st.booleans()):
        return name
    return f"{name}({', '.join(args)})"


BLOCK_CALLS = ["residual_basic(8)", "residual_basic(p, stride=2)", "residual_bottleneck(4)", "conv_bn(8)",
               "conv_bn(8, act=\"swish\")", "inception(4, 4, 8, 2, 4, 4)", "dense_block(2, growth=4)",
               "dense_layer(4)", "transition", "depthwise_separable(8)", "squeeze_excite(2)", "mbconv(8)",
               "mbconv(16, expand=1, kernel=5, stride=2)", "fire(2, 4, 4)", "unit(p)", "unit", "unit(2, 3, 4)"]


@st.composite
def step(draw) -> str:
    kind = draw(st.integers(0, 9))
    if kind < 7:
        text = call_text(draw, draw(st.sampled_from(OP_NAMES)))
    elif kind < 9:
        text = draw(st.sampled_from(BLOCK_CALLS))
    else:
        text = draw(st.sampled_from(["f", "nosuchop", "conv(frozen=true, 4, 3)"]))
    if draw(st.integers(0, 9)) == 0:
        text += " * " + draw(st.sampled_from(["2", "p", "0", "3", "1000000000", "-1"]))
    if draw(st.integers(0, 9)) == 0:
        text += " as " + draw(st.sampled_from(["stem", "head", "conv", "x"]))
    return text


def chain(draw, source: str, lo: int = 1, hi: int = 4) -> str:
    return " -> ".join([source] + draw(st.lists(step(), min_size=lo, max_size=hi)))


@st.composite
def statement(draw) -> str:
    kind = draw(st.integers(0, 11))
    if kind < 5:
        return f"h = {chain(draw, 'h')}"
    if kind == 5:
        merge = draw(st.sampled_from(["add(h, b)", "concat(h, b)", "multiply(h, b)", "(h, b) -> add",
                                      "concat(h, b, axis=0)", "add(h, b, h)", "add(h)"]))
        return f"b = {chain(draw, 'h', 0, 2)}\n  h = {merge}"
    if kind == 6:
        count = draw(st.sampled_from(["0", "1", "2", "p", "p - 1", "-1", "1000000000", "3.5", "true"]))
        return f"repeat {count} {{ h = {chain(draw, 'h', 1, 2)} }}"
    if kind == 7:
        loop = draw(st.sampled_from(["i in range(3)", "i in range(p)", "(c, s) in [(4, 1), (8, 2)]",
                                     "i in [1, 2]", "i in 5", "(c, s) in [1, 2]", "i in range(1000000000)"]))
        return f"for {loop} {{ h = h -> conv(h.c + 1, 1) -> {draw(step())} }}"
    if kind == 8:
        cond = draw(st.sampled_from(["h.c > 4", "p == 3", "flag", "h", "1", "h.rank == 2 and p > 0", "same"]))
        return f"if {cond} {{ h = {chain(draw, 'h')} }} else {{ h = h -> identity }}"
    if kind == 9:
        return f"shared f = {draw(step())}\n  a = h -> f\n  b = h -> f\n  h = add(a, b)"
    if kind == 10:
        return f"h -> {draw(step())} -> output {draw(st.sampled_from(['aux', 'y', 'z']))}"
    return draw(st.sampled_from(["n = p * 2 + 1", "h = x", "h = in", "z = h -> f", "w = h.w", "h -> output y",
                                 "input x2: 8x8x3", "return h", "h = h -> unit(h.c)"]))


SHAPES = ["32x32x3", "16x16x8", "28x28x1", "64x3", "100x1", "8x8x8x2", "7x7x64", "1x1x3", "224x224x3", "(16, 16, 4)",
          "[12, 12, 2]", "0x32x3", "3", "99999999x99999999x3", "1x1x1x1x1", "x", "p", "(p * 8, p * 8, 3)"]


@st.composite
def network(draw) -> tuple[str, dict | None, dict | None]:
    """A spec text, and maybe `--set` overrides and an `--input` shape, as the command line gives them."""
    head = draw(st.sampled_from(["p: int = 4", "p: int = 3, flag: bool = false", "p: float = 1.5",
                                 "p: int = 8, width: float = 1.0", "p = 2", "p: int", "p: tensor = 3"]))
    shape = draw(st.sampled_from(SHAPES))
    body = draw(st.lists(statement(), min_size=1, max_size=7))
    tail = draw(st.sampled_from(["h -> output y", "h -> global_avgpool -> dense(10) -> output y",
                                 "h -> flatten -> dense(p) -> softmax -> output y", "", "h -> output x"]))
    lines = []
    if draw(st.booleans()):
        inner = draw(st.sampled_from(["in -> conv(c, 3, padding=same) -> relu", "in -> conv(in.c * 2, 1)",
                                      "add(in, in -> conv(in.c, 3, padding=1))", "in -> unit(c)", "c", "in"]))
        lines.append(f"block unit(c: int = 4, s: int = 1) {{\n  return {inner}\n}}")
    if draw(st.integers(0, 4)) == 0:
        lines.append(draw(st.sampled_from(["K = 3", "K = [1, 2, 3]", "K = K + 1", 'import "nothere.cnn"',
                                           'import "generated.cnn"'])))
    lines.append(f"network G({head}) {{\n  input x: {shape}\n  h = x\n  " + "\n  ".join(body) + f"\n  {tail}\n}}")
    overrides = None
    if draw(st.integers(0, 3)) == 0:
        raw = draw(st.sampled_from(["10", "-1", "0", "1.5", "true", "224x224x3", "abc", "1e400", "4611686018427387904",
                                    "99999999999999999999999"]))
        overrides = {draw(st.sampled_from(["p", "flag", "nope"])): parse_value(raw)}
    inputs = None
    if draw(st.integers(0, 5)) == 0:
        inputs = {None: draw(st.sampled_from([(64, 64, 3), (8, 8), (1, 1, 1), (100000, 100000, 3), (5,)]))}
    return "\n".join(lines) + "\n", overrides, inputs


# --- mutations -----------------------------------------------------------------------

TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|\d+(?:x\d+)+|\d+\.\d*(?:[eE][-+]?\d+)?|\d+|[A-Za-z_]\w*|->|\*\*|//|==|!=|'
                   r'<=|>=|#[^\n]*|\s+|.', re.S)
NUMBER = re.compile(r"\d[\d.eEx]*")


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


@st.composite
def mutation(draw, text: str) -> str:
    toks = tokens(text)
    for _ in range(draw(st.integers(1, 4))):
        if not toks:
            toks = [draw(st.sampled_from(NAMES))]
        i = draw(st.integers(0, len(toks) - 1))
        j = draw(st.integers(0, len(toks) - 1))
        kind = draw(st.integers(0, 13))
        if kind == 0:
            del toks[i]
        elif kind == 1:
            lo, hi = sorted((i, j))
            toks[hi:hi] = toks[lo:hi + 1]  # duplicate a run of tokens
        elif kind == 2:
            toks[i], toks[j] = toks[j], toks[i]
        elif kind == 3:
            numbers = [k for k, t in enumerate(toks) if NUMBER.fullmatch(t)] or [i]
            toks[draw(st.sampled_from(numbers))] = draw(st.sampled_from(WILD_NUMBERS))
        elif kind == 4:
            names = [k for k, t in enumerate(toks) if t[:1].isalpha() or t[:1] == "_"] or [i]
            toks[draw(st.sampled_from(names))] = draw(st.sampled_from(NAMES))
        elif kind == 5:
            toks.insert(i, draw(st.sampled_from(NAMES + PUNCTUATION + WILD_NUMBERS)))
        elif kind == 6:
            depth = draw(st.sampled_from([2, 50, 400, 3000]))
            open_, close = draw(st.sampled_from([("(", ")"), ("[", "]"), ("-", ""), ("not ", ""), ("{", "}")]))
            toks[i] = open_ * depth + toks[i] + close * depth
        elif kind == 7:
            toks[i] = toks[i] + draw(st.sampled_from([" -> relu", " -> relu * 1000000000", " * 1000000000"])) * \
                draw(st.sampled_from([1, 3, 200]))
        elif kind == 8:  # a whole line deleted or duplicated
            lines = "".join(toks).split("\n")
            k = draw(st.integers(0, len(lines) - 1))
            lines[k:k + 1] = [] if draw(st.booleans()) else [lines[k]] * draw(st.sampled_from([2, 30]))
            toks = tokens("\n".join(lines))
        elif kind == 9:
            joined = "".join(toks)
            cut = draw(st.integers(0, len(joined)))
            toks = tokens(joined[:cut] + (draw(st.sampled_from(["", "\n}"])) if draw(st.booleans()) else ""))
        elif kind == 10:  # a byte-level edit
            joined = "".join(toks)
            cut = draw(st.integers(0, len(joined)))
            char = draw(st.sampled_from(["\x00", "\\", '"', "\u00e9", "\ufeff", "\t", "x", "@", "{", "\r"]))
            toks = tokens(joined[:cut] + char + joined[cut + draw(st.integers(0, 1)):])
        elif kind == 11:
            toks[i] = draw(st.sampled_from(['"\\x"', '"\\N{nope}"', '"\\u12"', '"' + "a" * 70000 + '"', '""']))
        elif kind == 12:
            toks.insert(i, draw(st.sampled_from(["\nrepeat 1000000000 { }\n", "\nfor i in range(1000000000) { }\n",
                                                 "\nrepeat 100 { repeat 100 { repeat 100 { } } }\n",
                                                 "\nn = sum(range(1000000000000))\n", "\nn = round(5, -1000000000)\n",
                                                 "\nif true { if true { if true { } } }\n"])))
        else:
            toks[i] = draw(st.sampled_from(WILD_NUMBERS + SYMBOLS + ["in.c", "x.shape[9]", "h.d"]))
    return "".join(toks)


# --- seeds ---------------------------------------------------------------------------

INLINE_SEEDS = [
    """network LeNet5(num_classes: int = 10) {
  input x: 32x32x1
  x -> conv(6, 5) -> tanh -> avgpool(2, stride=2) -> conv(16, 5) -> tanh -> avgpool(2, stride=2)
    -> flatten -> dense(120) -> tanh -> dense(84) -> tanh -> dense(num_classes) -> softmax -> output y
}
""",
    """STAGES = [(16, 2, 1), (32, 2, 2)]
network R(num_classes: int = 10, width: float = 1.0) {
  input x: 64x64x3
  h = x -> conv(round_filters(16, width), 3, stride=2, padding=1, bias=false) -> batchnorm -> relu
  for (c, n, s) in STAGES { h = h -> residual_basic(c, stride=s); repeat n - 1 { h = h -> residual_basic(c) } }
  aux = h -> global_avgpool -> dense(num_classes) -> output aux
  h -> global_avgpool -> dropout(0.2) -> dense(num_classes) -> output y
}
""",
    """block stage(c: int, n: int = 2) {
  h = in
  for i in range(n) { h = h -> mbconv(c, stride=i == 0 and in.c != c ? 2 : 1) }
  return h
}
network E(depth: float = 1.0) {
  input x: 32x32x3
  h = x -> conv_bn(16, 3, stride=2, act="swish") -> stage(16, round_repeats(1, depth)) -> stage(24)
  e = h -> conv(1, 3, padding=same, weights=sobel_x, bias=false, frozen=true)
  shared f = dense(8)
  a = h -> global_avgpool -> f
  b = h -> global_maxpool -> f
  concat(a, b) -> output y
  e -> output edges
}
""",
    """network S(n: int = 3) {
  input a: 100x2
  input v: 24x24x24x1
  a -> conv(8, 5, padding=same) -> maxpool(2) -> upsample(2) -> crop(1) -> zeropad((2, 0)) -> flatten -> output s
  v -> conv(4, 3) -> batchnorm(momentum=0.01) -> leaky_relu(0.2) -> avgpool(2, ceil=true)
    -> conv_transpose(2, 2, stride=2) -> global_avgpool(keepdims=true) -> reshape([-1]) -> maxout(2) -> output t
}
""",
]


def _docs_examples() -> list[str]:
    doc = ROOT / "docs" / "language.md"
    if not doc.exists():
        return []
    return re.findall(r"^```cnn(?:-error [EW]\d{4})?\n(.*?)^```", doc.read_text(), re.M | re.S)


def _shipped(max_bytes: int | None) -> list[tuple[Path, str]]:
    found = []
    for path in sorted((ROOT / "specs").glob("**/*.cnn")):
        text = path.read_text()
        if max_bytes is None or len(text) <= max_bytes:
            found.append((path, text))
    return found


SMALL_SEEDS = [(GENERATED, t) for t in INLINE_SEEDS + _docs_examples()] + _shipped(1500)
ALL_SHIPPED = _shipped(None)


# --- the tests -----------------------------------------------------------------------


@settings(FUZZ, max_examples=800)
@given(network())
def test_generated_networks(case):
    text, overrides, inputs = case
    check_spec(text, overrides=overrides, input_shapes=inputs)


@settings(FUZZ, max_examples=500)
@given(st.data())
def test_mutated_generated_networks(data):
    text, overrides, inputs = data.draw(network())
    check_spec(data.draw(mutation(text)), overrides=overrides, input_shapes=inputs)


@settings(FUZZ, max_examples=800)
@given(st.data())
def test_mutated_small_specs(data):
    path, text = data.draw(st.sampled_from(SMALL_SEEDS))
    check_spec(data.draw(mutation(text)), path)


@pytest.mark.slow
@settings(FUZZ, max_examples=3000)
@given(st.data())
def test_mutated_shipped_specs(data):
    assert ALL_SHIPPED, "no shipped specs to mutate"
    path, text = data.draw(st.sampled_from(ALL_SHIPPED))
    check_spec(data.draw(mutation(text)), path)


# --- crashes fuzzing found: each spec once raised an exception other than a diagnostic ---------

NET = "network N() {{\n  input x: 8x8x3\n  {}\n  x -> output y\n}}\n"
REGRESSIONS = {
    # RecursionError in the expander: expressions, lists and bodies nested past Python's stack.
    "nested negation": (NET.format("n = " + "-" * 2000 + "1"), "E0601"),
    "long sum": (NET.format("n = " + " + ".join(["1"] * 2000)), "E0601"),
    "nested lists": (NET.format("n = " + "[" * 2000 + "]" * 2000), "E0601"),
    "nested ifs": (NET.format("if true { " * 600 + "}" * 600), "E0601"),
    # Hangs: a loop with an empty body never counted a step, and the step budget took minutes.
    "nested empty repeats": (NET.format("repeat 40000 { repeat 40000 { } }"), "E0601"),
    "for with an empty body": (NET.format("for i in range(40000) { for j in range(40000) { } }"), "E0601"),
    # Hangs in C, where no step budget reaches: sum/max over a huge range, round to -1e9 digits;
    # OverflowError: indexing a range longer than sys.maxsize.
    "sum of a huge range": (NET.format("n = sum(range(1000000000000))"), "E0601"),
    "max of a huge range": (NET.format("n = max(range(-4611686018427387904, 4611686018427387904))"), "E0601"),
    "index a huge range": (NET.format("n = range(-4611686018427387904, 4611686018427387904)[0]"), "E0601"),
    "round to -1e9 digits": (NET.format("n = round(5, -1000000000) + round(2.5, 10 ** 9)\n"
                                        "  x -> conv(n * 2, 1) -> output z"), (8, 8, 5)),  # (0 + 2.5) * 2
    # ValueError: Python converts at most 4,300 digits to an int.
    "a 5,000-digit number": (NET.format("n = " + "9" * 5000), "E0601"),
    "a 5,000-digit shape": ("network N() {\n  input x: " + "9" * 5000 + "x3\n  x -> output y\n}\n", "E0601"),
    # UnicodeDecodeError out of the string unescaping (the command line called the file unreadable).
    "a truncated \\x escape": (NET.format('s = "\\x"'), "E0001"),
    "an unknown \\N escape": ('import "\\N{nope}"\n' + NET.format(""), "E0001"),
    # IndexError: `reshape([])` made a scalar, and `in.c` of a scalar indexed an empty shape.
    "reshape to a scalar": ("block b() { return in -> conv(in.c, 1) }\n"
                            "network N() { input x: 1x1x1\n x -> flatten -> reshape([]) -> b -> output y }", "E0305"),
}


@pytest.mark.parametrize("name", REGRESSIONS)
def test_crash_regressions(name):
    text, expected = REGRESSIONS[name]
    analysis = check_spec(text)
    assert analysis is not None
    if isinstance(expected, tuple):  # the spec is fine: the output's shape
        assert analysis.ok, analysis.diagnostics
        assert analysis.graph.node(analysis.graph.outputs["z"]).shape == expected
    else:
        assert not analysis.ok
        assert expected in [d.code for d in analysis.diagnostics if d.is_error], analysis.diagnostics
