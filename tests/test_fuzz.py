"""Fuzzing the front end: every spec ends in a result or a diagnostic, never a traceback or a hang.

Three sources of input, all deterministic (`derandomize=True`):
- a grammar-based generator of networks (random ops, attributes, shapes, blocks, loops, merges,
  shared weights, `--set` overrides), mostly sensible so the deep passes run, sometimes wild;
- token- and byte-level mutations of the shipped specs, the language reference's examples and
  the generated networks: deletions, duplications, swaps, interesting numbers (0, negatives,
  huge values, `repeat 1000000000`), deep nesting, long chains;
- the regression cases at the end, each a crash that fuzzing found.

The default run feeds 2,100 specs and 200 command lines (about 60 s); `-m slow` adds 18,000 more
(generated, mutated generated, mutated library and docs specs, mutated shipped specs of any size,
command lines), so that CI's slow run feeds over 20,000.  Every case must end within 2 s of CPU
and 500 MB: time by `thread_time` per case (this thread's CPU: the frameworks' worker threads that
earlier tests left in the process spin on their own), memory by the process's peak resident size, which
must stay within 500 MB of where the module started running (cheap enough for every case; the resource
bombs of tests/test_resource_bombs.py are measured one by one with tracemalloc).
"""

from __future__ import annotations

import gc
import io
import json
import re
import resource
import signal
import time
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from random import Random

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cnnc.cli import main
from cnnc.cli.common import parse_value
from cnnc.compiler import Analysis, analyze
from cnnc.diagnostics import CnncError, render_all
from cnnc.expand.values import BUILTINS
from cnnc.ir.ops import ALIASES, OPS
from cnnc.report import summary_json, summary_table

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "tests" / "generated.cnn"  # never written: only its folder matters (imports)
# CPU seconds, not wall seconds: the machine is shared, and a hang burns CPU.  The largest
# network cnnc accepts (12,000 ResNet layers) takes about 0.5 s; typical inputs take milliseconds.
LIMIT_S = 2.0
HANG_S = 10.0  # where a case is stopped as a hang (a case over LIMIT_S fails anyway, if it is so twice)
WALL_LIMIT_S = 60.0  # a backstop for a hang that sleeps
LIMIT_MB = 500
_START_KB = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]  # Linux: kilobytes; reset when the module runs


def assert_memory_bounded() -> None:
    """No case so far took the process's peak past 500 MB above where this module started running."""
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - _START_KB[0]) / 1024
    assert grown < LIMIT_MB, f"the process grew by {grown:.0f} MB"


class Hang(Exception):
    pass


@contextmanager
def time_limit(cpu_seconds: float, wall_seconds: float):
    def fire(signum, frame):
        raise Hang(f"no answer within {cpu_seconds} s of CPU or {wall_seconds} s")

    previous = {sig: signal.signal(sig, fire) for sig in (signal.SIGPROF, signal.SIGALRM)}
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    signal.setitimer(signal.ITIMER_REAL, wall_seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@pytest.fixture(autouse=True, scope="module")
def _frozen_heap():
    """Everything earlier tests left alive (torch, TensorFlow: millions of objects) moves out of the
    cyclic collector's reach for this module, so the per-case `gc.collect()` sweeps only the cases'
    own garbage (a full sweep of that heap took longer than a case)."""
    gc.collect()
    gc.freeze()
    # The peak so far is the tests' before this module (collection imported it before they ran).
    _START_KB[0] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    gc.unfreeze()


def check_spec(text: str, path: Path = GENERATED, overrides: dict | None = None,
               input_shapes: dict | None = None) -> Analysis | None:
    """Analyse and report like `cnnc summary` within 2 s of CPU; fail on any exception but a diagnostic."""
    gc.collect()  # the garbage of earlier cases (and hypothesis' own) is not this case's time
    start = time.thread_time()
    analysis = _analyse_and_report(text, path, overrides, input_shapes)
    elapsed = time.thread_time() - start
    if elapsed >= LIMIT_S:
        # Once over the limit may be the shared machine (caches, a busy core); twice is the input's doing.
        start = time.thread_time()
        _analyse_and_report(text, path, overrides, input_shapes)
        elapsed = time.thread_time() - start
    assert elapsed < LIMIT_S, f"took {elapsed:.1f} s of CPU, twice"
    assert_memory_bounded()
    return analysis


def _analyse_and_report(text: str, path: Path, overrides: dict | None, input_shapes: dict | None) -> Analysis | None:
    with time_limit(HANG_S, WALL_LIMIT_S):
        try:
            analysis = analyze(path, text, overrides=overrides, input_shapes=input_shapes)
        except CnncError as exc:  # allowed, though analyze reports instead of raising
            assert exc.diagnostics
            return None
        render_all(analysis.diagnostics, analysis.sources)
        for diag in analysis.diagnostics:
            assert re.fullmatch(r"[EWN]\d{4}", diag.code), diag
            json.dumps(diag.to_json())
        if analysis.ok:
            json.dumps(summary_json(analysis))
            summary_table(analysis)
        else:
            assert any(d.is_error for d in analysis.diagnostics), "failed without an error diagnostic"
    return analysis


# No `explain` phase: its line tracing slows a case tenfold, and a failing case then looks like a hang.
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

# --- vocabulary -------------------------------------------------------------------

OP_NAMES = sorted(name for name in OPS if name != "input") + sorted(ALIASES)
STDLIB_TEXT = (ROOT / "cnnc" / "stdlib" / "blocks.cnn").read_text()
STDLIB_BLOCKS = re.findall(r"^block (\w+)", STDLIB_TEXT, re.M)
ATTRIBUTES = sorted({f for op in OPS.values() for f in op.attrs.model_fields if f != "name"} | {"frozen"})
KEYWORDS = ["network", "block", "input", "output", "return", "if", "else", "for", "in", "repeat", "shared", "as",
            "import", "true", "false", "and", "or", "not", "assert"]
SYMBOLS = ["same", "valid", "nearest", "bilinear", "sobel_x", "scharr_y", "vertical", "foo"]
PUNCTUATION = ["->", "(", ")", "{", "}", "[", "]", ",", ":", "=", ";", ".", "*", "**", "+", "-", "/", "//", "%",
               "?", "<", ">", "==", "!=", "\n", " x ", "#"]
WILD_NUMBERS = ["0", "-1", "1", "2", "3", "7", "1000", "65536", "1000000000", "4611686018427387904",
                "9223372036854775808", "99999999999999999999999999999", "0.0", "0.5", "1.5", "-0.5", "1e-5",
                "1e308", "1e400", ".5", "100000", "0" * 5000 + "1", "9" * 5000, "1" * 5000 + ".5"]
NAMES = OP_NAMES + STDLIB_BLOCKS + ATTRIBUTES + KEYWORDS + SYMBOLS + sorted(BUILTINS) + ["x", "h", "y", "in", "p"]

# --- a grammar-based generator of networks ------------------------------------------
# Sensible calls per op, so most generated networks get through to the cost passes: `{f}`
# filters, `{k}` a kernel, `{t}` a per-axis tuple for the input's rank, `{u}` a small size.

SPATIAL = {
    "conv": ["conv({f}, {k}, padding=same)", "conv({f}, {k}, stride=2, padding=same, bias=false)", "conv({f}, 1)",
             "conv({f}, {k}, dilation=2, padding=same)", "conv({f}, {t}, padding={t0})", "conv({f}, 1, groups=1)"],
    "depthwise": ["depthwise({k}, padding=same)", "depthwise(3, stride=2, padding=1, multiplier=2)"],
    "separable": ["separable({f}, {k}, padding=same)", "separable({f}, 3, stride=2, padding=same, bias=false)"],
    "pointwise": ["pointwise({f})", "pointwise({f}, bias=false)"],
    "conv_transpose": ["conv_transpose({f}, 2, stride=2)", "conv_transpose({f}, 3, stride=2, padding=1, "
                                                           "output_padding=1)", "conv_transpose({f}, 3, padding=same)"],
    "maxpool": ["maxpool(2)", "maxpool(3, stride=1, padding=1)", "maxpool(2, ceil=true)", "maxpool({t}, padding=same)"],
    "avgpool": ["avgpool(2)", "avgpool(3, stride=2, padding=1)", "avgpool(2, stride=1, padding=same)"],
    "adaptive_avgpool": ["adaptive_avgpool({u})"],
    "upsample": ["upsample(2)", "upsample({t})"],
    "zeropad": ["zeropad(1)", "zeropad({t})"],
    "crop": ["crop({t0})"],
    "batchnorm": ["batchnorm", "batchnorm(momentum=0.01, epsilon=0.001)", "batchnorm(scale=false, frozen=true)"],
    "lrn": ["lrn(5, alpha=0.0001, beta=0.75, k=2)", "lrn"],
    "maxout": ["maxout(h.c)"],
    "residual_basic": ["residual_basic({f})", "residual_basic({f}, stride=2)"],
    "residual_bottleneck": ["residual_bottleneck({u})", "residual_bottleneck(4, stride=2, groups=2, width=8)"],
    "other_blocks": ["conv_bn({f})", "conv_bn({f}, 3, stride=2, act=\"swish\")", "inception(4, 4, 8, 2, 4, 4)",
                     "dense_block(2, growth=4)", "transition", "depthwise_separable({f})", "squeeze_excite(2)",
                     "mbconv({f})", "mbconv(16, expand=1, kernel=5, stride=2)", "fire(2, 4, 4)", "unit({f})",
                     "unit"],
}
ANY_RANK = ["relu", "relu6", "sigmoid", "tanh", "swish", "silu", "hard_swish", "hard_sigmoid", "gelu", "identity",
            "leaky_relu(0.2)", "elu", "elu(alpha=0.5)", "softmax", "dropout(0.2)", "dropout(rate=0.5)", "bn"]
TO_FLAT = ["flatten", "global_avgpool", "global_maxpool", "global_avgpool(keepdims=true) -> flatten",
           "reshape([-1])"]
FLAT = ["dense({f})", "dense(10, bias=false)", "dense(p, frozen=true)", "maxout(2) -> dense(4)"]


def pick(rnd: Random, good: list[str], bad: list[str], p_bad: float = 0.1) -> str:
    """A sensible choice, or one that should fail, with probability `p_bad`."""
    return rnd.choice(bad if rnd.random() < p_bad else good)


def fill(rnd: Random, template: str, rank: int) -> str:
    per_axis = ", ".join(rnd.choice("123") for _ in range(rank))
    return template.format(
        f=rnd.choice(["4", "8", "16", "p", "h.c", "2 * p", "make_divisible(p * 1.5)", "round_filters(16, 1.25)"]),
        k=rnd.choice("135"), u=rnd.choice("124"), t0=rnd.choice("01"),
        t=f"({per_axis},)" if rank == 1 else f"({per_axis})",
    )


WILD = WILD_NUMBERS + ["true", "same", "valid", "bilinear", "foo", '"s"', "(1, 2)", "((1, 2), (3, 4))", "[]", "(0,)",
                       "[[1]]", "[[1, 0], [0, -1]]", "sobel_x", "x", "in.c", "h.shape", "p // 0", "2 ** 100",
                       "range(3)", "len(h.shape)", "min(p, 3)", "make_divisible(p * 1.5)", "round_filters(p, 1.2)",
                       "round_repeats(p, 2.5)", 'float("nan")', "h.spatial[0]", "-p", "p > 2 ? 3 : 1", "not true",
                       "sqrt(p)", "h"]


def wild_call(rnd: Random, name: str) -> str:
    """Any op with any of its attributes, the values anything at all."""
    op = OPS.get(ALIASES.get(name, name))
    if op is None:
        return name
    fields = [f for f in op.attrs.model_fields if f != "name"] + ["frozen", "bogus"]
    args = [rnd.choice(WILD) for _ in op.positional[:rnd.randint(0, len(op.positional))]]
    args += [f"{k}={rnd.choice(WILD)}" for k in rnd.sample(fields, rnd.randint(0, min(3, len(fields))))]
    return f"{name}({', '.join(args)})" if args or rnd.random() < 0.5 else name


def steps(rnd: Random, rank: int, state: dict, lo: int = 1, hi: int = 5) -> str:
    """A run of steps; mostly sensible for the value's rank (`state["flat"]` once flattened), sometimes wild."""
    out, flat = [], state["flat"]
    for _ in range(rnd.randint(lo, hi)):
        kind = rnd.randint(0, 59)
        if kind == 0:
            text = wild_call(rnd, rnd.choice(OP_NAMES))
        elif kind == 1:
            text = rnd.choice(["f", "nosuchop", "conv(frozen=true, 4, 3)", "input", "unit(1, 2, 3)", "residual_basic"])
        elif flat or kind == 2:
            text = fill(rnd, rnd.choice(FLAT + ANY_RANK), rank)
        elif kind <= 6:
            text, flat = rnd.choice(TO_FLAT), True
        elif kind <= 25:
            text = rnd.choice(ANY_RANK)
        else:
            text = fill(rnd, rnd.choice(SPATIAL[rnd.choice(sorted(SPATIAL))]), rank)
        if rnd.randint(0, 29) == 0:
            text += " * " + pick(rnd, ["2", "p", "0", "3", "(p - 1)"], ["1000000000", "-1", "x", "(1.5)"])
        if rnd.randint(0, 29) == 0:
            text += " as " + rnd.choice(["stem", "head", "conv", "x"])
        out.append(text)
    state["flat"] = flat
    return " -> ".join(out)


def statement(rnd: Random, rank: int, state: dict) -> str:
    kind = rnd.randint(0, 17)
    if kind < 8:
        return f"h = h -> {steps(rnd, rank, state)}"
    if kind == 8:
        merge = pick(rnd, ["add(h, b)", "concat(h, b)", "multiply(h, b)", "(h, b) -> add", "add(h, b, h)",
                           "multiply(h, b -> global_avgpool)"], ["concat(h, b, axis=0)", "add(h)", "add(h, 3)"])
        branch = rnd.choice(["h -> identity", "h -> conv(h.c, 3, padding=same)", "h -> relu", "h -> conv(4, 1)",
                             f"h -> {steps(rnd, rank, dict(state), 1, 2)}"])
        return f"b = {branch}\n  h = {merge}"
    if kind == 9:
        count = pick(rnd, ["0", "1", "2", "p", "p - 1"], ["-1", "1000000000", "3.5", "true"])
        return f"repeat {count} {{ h = h -> {steps(rnd, rank, state, 1, 2)} }}"
    if kind == 10:
        loop = pick(rnd, ["i in range(3)", "i in range(p)", "(c, s) in [(4, 1), (8, 2)]", "i in [1, 2]"],
                    ["i in 5", "(c, s) in [1, 2]", "i in range(1000000000)"])
        conv = "dense(p + i)" if state["flat"] else "conv(h.c + 1, 1)"
        return f"for {loop} {{ h = h -> {conv} -> {steps(rnd, rank, state, 1, 2)} }}"
    if kind == 11:
        cond = pick(rnd, ["h.c > 4", "p == 3", "h.rank == 2 and p > 0", "not (p < 2) or h.c == 3"],
                    ["flag", "h", "1", "same"])
        return f"if {cond} {{ h = h -> {steps(rnd, rank, state, 1, 2)} }} else {{ h = h -> identity }}"
    if kind == 12:
        return f"shared f = {steps(rnd, rank, state, 1, 1)}\n  a = h -> f\n  b = h -> f\n  h = add(a, b)"
    if kind == 13:
        return f"h -> {steps(rnd, rank, dict(state), 1, 2)} -> output {pick(rnd, ['aux', 'z'], ['y', 'x'])}"
    if kind == 14 and rank == 2 and not state["flat"]:
        return "h = h -> conv(8, 3, padding=same, weights=sobel_x, bias=false)"
    return pick(rnd, ["n = p * 2 + 1", "h = x", "h = h -> unit(h.c)", "q = h.c // p", "h = h -> unit"],
                ["h = in", "z = h -> f", "w = h.w", "h -> output y", "input x2: 8x8x3", "return h", "h = h -> f"], 0.3)


SHAPES = {1: ["64x3", "100x1", "32x8", "(p * 16, 2)"],
          2: ["32x32x3", "16x16x8", "28x28x1", "7x7x64", "224x224x3", "(16, 16, 4)", "[12, 12, 2]",
              "(p * 8, p * 8, 3)"],
          3: ["8x8x8x2", "16x16x16x1"]}
WILD_SHAPES = ["0x32x3", "3", "99999999x99999999x3", "1x1x1x1x1", "x", "p", "1x1x3", "2x2x2"]


def network_text(rnd: Random) -> tuple[str, dict | None, dict | None]:
    """A spec text, and maybe `--set` overrides and an `--input` shape, as the command line gives them."""
    head = pick(rnd, ["p: int = 4", "p: int = 8, width: float = 1.0", "p = 2", "p: int = 3, flag: bool = false"],
                ["p: float = 1.5", "p: int", "p: tensor = 3", "p: int = 2, p: int = 3"], 0.05)
    rank = rnd.choice([1, 2, 2, 2, 3])
    shape = pick(rnd, SHAPES[rank], WILD_SHAPES)
    state = {"flat": False}
    body = [statement(rnd, rank, state) for _ in range(rnd.randint(1, 6))]
    tail = pick(rnd, ["h -> output y", "h -> global_avgpool -> dense(10) -> output y",
                      "h -> flatten -> dense(p) -> softmax -> output y"], ["", "h -> output x"], 0.05)
    lines = []
    if rnd.random() < 0.95:
        inner = pick(rnd, ["in -> conv(c, 3, padding=same) -> relu", "in -> conv(in.c * 2, 1)",
                           "add(in, in -> conv(in.c, 3, padding=same))", "in"], ["in -> unit(c)", "c"])
        lines.append(f"block unit(c: int = 4, s: int = 1) {{\n  return {inner}\n}}")
    if rnd.randint(0, 19) == 0:
        lines.append(rnd.choice(["K = 3", "K = [1, 2, 3]", "K = K + 1", 'import "nothere.cnn"',
                                 'import "generated.cnn"']))
    lines.append(f"network G({head}) {{\n  input x: {shape}\n  h = x\n  " + "\n  ".join(body) + f"\n  {tail}\n}}")
    overrides = None
    if rnd.randint(0, 5) == 0:
        raw = pick(rnd, ["10", "3", "1"], ["-1", "0", "1.5", "true", "224x224x3", "abc", "1e400",
                                           "4611686018427387904", "99999999999999999999999"], 0.5)
        overrides = {pick(rnd, ["p"], ["flag", "nope"]): parse_value(raw)}
    inputs = None
    if rnd.randint(0, 9) == 0:
        inputs = {None: pick(rnd, [(64, 64, 3), (48, 48, 2)], [(8, 8), (1, 1, 1), (100000, 100000, 3), (5,)], 0.3)}
    return "\n".join(lines) + "\n", overrides, inputs


@st.composite
def network(draw) -> tuple[str, dict | None, dict | None]:
    return network_text(draw(st.randoms(use_true_random=True)))


# --- mutations -----------------------------------------------------------------------

TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|\d+(?:x\d+)+|\d+\.\d*(?:[eE][-+]?\d+)?|\d+|[A-Za-z_]\w*|->|\*\*|//|==|!=|'
                   r'<=|>=|#[^\n]*|\s+|.', re.S)
NUMBER = re.compile(r"\d[\d.eEx]*")
NAME = re.compile(r"[A-Za-z_]\w*")


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)
BOMBS = ["\nrepeat 1000000000 { }\n", "\nfor i in range(1000000000) { }\n", "\nrepeat 100 { repeat 100 { } }\n",
         "\nn = sum(range(1000000000000))\n", "\nn = round(5, -1000000000)\n", "\nif true { if true { } }\n",
         "\nh = x -> relu * 2000\n", "\nimport \"generated.cnn\"\n",
         # issue 18's: values that double each step, builtins given other kinds, reads without bound
         "\na = [1]\nrepeat 40 { a = [a, a] }\nb = a == a\n", "\na = [1]\nrepeat 40 { a = a + a }\n",
         '\nn = round_filters("ab", 1000000000)\n', "\nn = round_repeats((1, 2), 1000000000)\n",
         '\nimport "/dev/zero"\n', '\nimport "a\\x00b"\n', '\nimport "\\ud800"\n',
         "\nfor i in range(99999) { h = x -> conv(-i - 1, 1) }\n", '\nh = x -> lrn(1000000000000)\n',
         '\nh = x -> dropout(float("nan"))\n', "\n# \u2028\x0c\n"]


def mutate_once(rnd: Random, toks: list[str]) -> list[str]:
    i, j = rnd.randrange(len(toks)), rnd.randrange(len(toks))
    # Mostly edits that keep the syntax (numbers, names, lines), so the later stages see them too.
    kind = rnd.choices(range(16), weights=[2, 1, 1, 3, 3, 3, 2, 2, 1, 1, 1, 2, 1, 1, 1, 2])[0]
    if kind == 0:
        del toks[i]
    elif kind == 1:  # duplicate a run of tokens
        lo, hi = sorted((i, j))
        toks[hi:hi] = toks[lo:hi + 1][:200]
    elif kind == 2:
        toks[i], toks[j] = toks[j], toks[i]
    elif kind in (3, 4, 5):  # numbers are where the shape arithmetic lives
        numbers = [k for k, t in enumerate(toks) if NUMBER.fullmatch(t)] or [i]
        toks[rnd.choice(numbers)] = rnd.choice(WILD_NUMBERS)
    elif kind in (6, 7):
        names = [k for k, t in enumerate(toks) if NAME.fullmatch(t)] or [i]
        toks[rnd.choice(names)] = rnd.choice(NAMES)
    elif kind == 8:
        toks.insert(i, rnd.choice(NAMES + PUNCTUATION + WILD_NUMBERS))
    elif kind == 9:  # deep nesting of a value
        values = [k for k, t in enumerate(toks) if NUMBER.fullmatch(t) or NAME.fullmatch(t)] or [i]
        depth = rnd.choice([2, 50, 400, 3000])
        left, right = rnd.choice([("(", ")"), ("[", "]"), ("-", ""), ("not ", ""), ("(1 + ", ")"), ("{", "}")])
        k = rnd.choice(values)
        toks[k] = left * depth + toks[k] + right * depth
    elif kind == 10:  # long chains, and repeated steps
        arrows = [k for k, t in enumerate(toks) if t == "->"] or [i]
        step = rnd.choice(["relu -> ", "conv(4, 1) -> ", "relu * 1000000000 -> ", "identity * 2000 -> "])
        toks[rnd.choice(arrows)] = "-> " + step * rnd.choice([1, 3, 300])
    elif kind == 11:  # a whole line deleted or duplicated
        lines = "".join(toks).split("\n")
        k = rnd.randrange(len(lines))
        lines[k:k + 1] = [] if rnd.random() < 0.5 else [lines[k]] * rnd.choice([2, 30])
        toks = tokens("\n".join(lines))
    elif kind == 12:  # truncated
        joined = "".join(toks)
        toks = tokens(joined[:rnd.randint(0, len(joined))] + rnd.choice(["", "\n}"]))
    elif kind == 13:  # a byte-level edit
        joined, cut = "".join(toks), rnd.randint(0, len("".join(toks)))
        char = rnd.choice(["\x00", "\\", '"', "\u00e9", "\ufeff", "\t", "x", "@", "{", "\r"])
        toks = tokens(joined[:cut] + char + joined[cut + rnd.randint(0, 1):])
    elif kind == 14:
        values = [k for k, t in enumerate(toks) if t.startswith('"') or NUMBER.fullmatch(t)] or [i]
        strings = ['"\\x"', '"\\N{nope}"', '"\\u12"', '"' + "a" * 70000 + '"', '""', '"\\n"']
        toks[rnd.choice(values)] = rnd.choice(strings)
    else:  # a resource bomb as a statement of its own
        lines = [k for k, t in enumerate(toks) if "\n" in t] or [i]
        toks.insert(rnd.choice(lines) + 1, rnd.choice(BOMBS))
    return toks


def mutate(rnd: Random, text: str) -> str:
    toks = tokens(text) or [rnd.choice(NAMES)]
    for _ in range(rnd.choice([1, 1, 1, 2, 2, 3, 4])):
        toks = mutate_once(rnd, toks) or [rnd.choice(NAMES)]
    return "".join(toks)


@st.composite
def mutation(draw, text: str) -> str:
    return mutate(draw(st.randoms(use_true_random=True)), text)


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
    return re.findall(r"^```cnn(?:-error [EWN]\d{4})?\n(.*?)^```", doc.read_text(), re.M | re.S)


def _shipped(small: bool) -> list[tuple[Path, str]]:
    """The shipped specs that define a network; `small`: short ones that import nothing (fast to analyse)."""
    found = []
    for path in sorted((ROOT / "specs").glob("**/*.cnn")):
        text = path.read_text()
        if "network" in text and not (small and (len(text) > 1500 or "import" in text)):
            found.append((path, text))
    return found


SMALL_SEEDS = [(GENERATED, t) for t in INLINE_SEEDS + _docs_examples()] + _shipped(small=True)
ALL_SHIPPED = _shipped(small=False)


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


ARGUMENT_PIECES = ["p", "flag", "nope", "x", "=", "==", "10", "-1", "0", "1.5", "true", "224x224x3", "0x3", "x3", "",
                   " ", "1e400", "99999999999999999999", "a=b=c", "\u00e9", "-", "--set", "--json", "--input",
                   "9" * 5000, "0" * 5000 + "1", "\x00", "\ud800", "nan", "inf"]


@settings(FUZZ, max_examples=200)
@given(st.data())
def test_command_line_arguments(tmp_path_factory, data):
    """`cnnc check|summary` with any `--set`/`--input`/`--network` words: exit 0, 1 or 2, no traceback."""
    rnd = data.draw(st.randoms(use_true_random=True))
    path = tmp_path_factory.getbasetemp() / "cli.cnn"
    if not path.exists():
        path.write_text(INLINE_SEEDS[1])
    argv = [rnd.choice(["check", "summary"]), str(path)]
    for _ in range(rnd.randint(1, 3)):
        option = rnd.choice(["--set", "--set", "--input", "--network", "--json"])
        words = "".join(rnd.choice(ARGUMENT_PIECES) for _ in range(rnd.randint(1, 4)))
        if rnd.random() < 0.7 and option != "--network":  # mostly well-formed, the values anything
            value = rnd.choice(ARGUMENT_PIECES)
            words = f"{rnd.choice(['num_classes', 'width', 'x', 'nope'])}={value}" if option == "--set" else \
                rnd.choice(["", "x="]) + rnd.choice(["64x64x3", "8x8x3", "1x1x3", "16777217x2x3", "3", "0x8x3"])
        argv += [option] if option == "--json" else [option, words]
    start = time.thread_time()
    with time_limit(HANG_S, WALL_LIMIT_S), redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        code = main(argv)
    assert code in (0, 1, 2), argv
    assert time.thread_time() - start < LIMIT_S
    assert_memory_bounded()


@pytest.mark.slow
@settings(FUZZ, max_examples=3000)
@given(st.data())
def test_mutated_shipped_specs(data):
    assert ALL_SHIPPED, "no shipped specs to mutate"
    path, text = data.draw(st.sampled_from(ALL_SHIPPED))
    check_spec(data.draw(mutation(text)), path)


# The slow set's bulk: with the 3,000 above, 18,000 cases beyond the default run's 2,300.
@pytest.mark.slow
@settings(FUZZ, max_examples=7000)
@given(network())
def test_generated_networks_at_scale(case):
    text, overrides, inputs = case
    check_spec(text, overrides=overrides, input_shapes=inputs)


@pytest.mark.slow
@settings(FUZZ, max_examples=3000)
@given(st.data())
def test_mutated_generated_networks_at_scale(data):
    text, overrides, inputs = data.draw(network())
    check_spec(data.draw(mutation(text)), overrides=overrides, input_shapes=inputs)


@pytest.mark.slow
@settings(FUZZ, max_examples=4000)
@given(st.data())
def test_mutated_small_specs_at_scale(data):
    path, text = data.draw(st.sampled_from(SMALL_SEEDS))
    check_spec(data.draw(mutation(text)), path)


@pytest.mark.slow
@settings(FUZZ, max_examples=1000)
@given(st.data())
def test_command_line_arguments_at_scale(tmp_path_factory, data):
    test_command_line_arguments.hypothesis.inner_test(tmp_path_factory, data)


# --- crashes fuzzing found: each spec once raised an exception other than a diagnostic ---------

NET = "network N() {{\n  input x: 8x8x3\n  {}\n  x -> output y\n}}\n"
REGRESSIONS = {
    # RecursionError in the expander: expressions, lists and bodies nested past Python's stack.
    "nested negation": (NET.format("n = " + "-" * 2000 + "1"), "E0601"),
    "long sum": (NET.format("n = " + " + ".join(["1"] * 2000)), "E0601"),
    "nested lists": (NET.format("n = " + "[" * 2000 + "]" * 2000), "E0601"),
    "nested ifs": (NET.format("if true { " * 600 + "}" * 600), "E0601"),
    "a shared layer defined as itself": ("network N() {\n  input x: 8x8x3\n  shared f = f\n  x -> f -> output y\n}\n",
                                         "E0401"),
    "64 nested blocks with loops": ("\n".join(f"block b{i}() {{ h = in\n for i in range(1) {{ if true {{ if true {{ "
                                             f"h = h -> b{i + 1} }} }} }}\n return h }}" for i in range(63))
                                    + "\nblock b63() { return in -> relu }\n" + NET.format("x -> b0 -> output z"),
                                    "E0601"),
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
