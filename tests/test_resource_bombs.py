"""Resource bombs (issue 18): tiny inputs that once hung cnnc, ate gigabytes or raised a traceback.

Each case goes through the command line in-process, as a user would run it, and must end in a
diagnostic or a one-line error within 1 s of CPU and 500 MB of Python allocations.  Time and
memory are measured in separate runs: tracemalloc slows Python down about threefold.
"""

from __future__ import annotations

import io
import os
import re
import time
import tracemalloc
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from cnnc.cli import main

NET = "network N() {{\n  input x: 8x8x3\n  {}\n  x -> output y\n}}\n"
CPU_S = 1.0
PEAK_MB = 500


def _spec(folder: Path, text: str) -> list[str]:
    path = folder / "bomb.cnn"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return [str(path)]


def _fifo(folder: Path) -> Path:
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    return fifo


# name -> (argv after `check` given a scratch folder, the exit status, a pattern the message matches)
CASES = {
    "5,000 leading zeros": (lambda d: _spec(d, NET.format("n = " + "0" * 5000 + "1")), 1, r"E0601\]: number out of"),
    "--set of 5,000 digits": (
        lambda d: (
            _spec(d, "network N(p: int = 1) {\n  input x: 8x8x3\n  x -> output y\n}\n") + ["--set", "p=" + "9" * 5000]
        ),
        2,
        r"number 9+\.\.\. is out of range",
    ),
    "--input of 5,000 digits": (
        lambda d: _spec(d, NET.format("")) + ["--input", "9" * 5000 + "x3x3"],
        2,
        "out of range",
    ),
    "import with NUL": (lambda d: _spec(d, 'import "a\\x00b"\n' + NET.format("")), 1, "E0404.*NUL"),
    "import with a raw NUL": (lambda d: _spec(d, 'import "a\x00b"\n' + NET.format("")), 1, "E0404.*NUL"),
    "import with a lone surrogate": (lambda d: _spec(d, 'import "\\ud800.cnn"\n' + NET.format("")), 1, "surrogate"),
    "round_filters of a tuple": (
        lambda d: _spec(d, NET.format("n = round_filters((1, 2), 1000000000)")),
        1,
        r"E0207\]: `round_filters` takes numbers, got a tuple",
    ),
    "round_filters of a string": (
        lambda d: _spec(d, NET.format('n = round_filters("aaaa", 100000000)')),
        1,
        "takes numbers, got a string",
    ),
    "round_repeats of a string": (
        lambda d: _spec(d, NET.format('n = round_repeats("ab", 1000000000)')),
        1,
        r"`round_repeats` takes numbers",
    ),
    "round_repeats of a tuple": (
        lambda d: _spec(d, NET.format("n = round_repeats((1, 2), 1000000000)")),
        1,
        r"`round_repeats` takes numbers",
    ),
    "2^40 shared list compared": (
        lambda d: _spec(
            d, NET.format("a = [1]\n  b = [1]\n  repeat 40 { a = [a, a] }\n  repeat 40 { b = [b, b] }\n  c = a == b")
        ),
        1,
        r"E0601\]: the value is too large",
    ),
    "2^40 shared list given to an op": (
        lambda d: _spec(d, NET.format("a = [1]\n  repeat 40 { a = [a, a] }\n  h = x -> reshape(a)")),
        1,
        r"E0601\]: the value is too large",
    ),
    "2^40 list by +": (
        lambda d: _spec(d, NET.format("a = [1]\n  repeat 40 { a = a + a }\n  c = a == a")),
        1,
        r"E0601\]: list is too long",
    ),
    "import /dev/zero": (lambda d: _spec(d, 'import "/dev/zero"\n' + NET.format("")), 1, "E0404.*not a regular file"),
    "import a FIFO": (lambda d: _spec(d, f'import "{_fifo(d)}"\n' + NET.format("")), 1, "E0404.*not a regular file"),
    "check a FIFO": (lambda d: [str(_fifo(d))], 2, "cannot read .*fifo: not a regular file"),
    "check /dev/zero": (lambda d: ["/dev/zero"], 2, "cannot read /dev/zero: not a regular file"),
    "a directory": (lambda d: [str(d)], 2, "cannot read"),
    "a file over 4 MiB": (lambda d: _spec(d, "#" * (5 << 20)), 2, "larger than 4 MiB"),
    "a file of semicolons": (lambda d: _spec(d, NET.format(";" * 3_000_000)), 1, r"E0601\]: the spec has more than"),
    "130,000 block definitions": (
        lambda d: _spec(d, "".join(f"block b{i}() {{ return in }}\n" for i in range(130_000)) + NET.format("")),
        1,
        "more than 100,000 tokens",
    ),
    "add of 200,000 operands": (
        lambda d: _spec(d, NET.format("h = add(" + ", ".join(["x"] * 200_000) + ")")),
        1,
        "more than 100,000 tokens",
    ),
    "a 400,000-element reshape": (
        lambda d: _spec(d, NET.format("h = x -> reshape([" + ", ".join(["1"] * 400_000) + "])")),
        1,
        "more than 100,000 tokens",
    ),
    "99,999 errors in a loop": (
        lambda d: _spec(d, NET.format("for i in range(99999) { h = x -> conv(-i - 1, 1) }")),
        1,
        r"\d+ more errors not shown",
    ),
    "one mistake 99,999 times": (
        lambda d: _spec(d, NET.format("for i in range(99999) { h = x -> nosuch }")),
        1,
        r"E0901\]: too many errors",
    ),
    "a 4 MB source line": (
        lambda d: _spec(d, NET.format("h = x -> nosuch" + " " * 4_000_000 + "-> relu")),
        1,
        r"E0101\]: unknown op `nosuch`",
    ),
    "lrn of 10^12 channels": (
        lambda d: _spec(d, NET.format("x -> lrn(1000000000000) -> output z")),
        1,
        r"`size` must be at most 1024",
    ),
}


def _run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["check", *argv])
    return code, err.getvalue()


@pytest.mark.parametrize("name", CASES)
def test_bomb_is_refused_quickly(tmp_path, name):
    make, status, pattern = CASES[name]
    argv = make(tmp_path)
    start = time.process_time()
    code, err = _run(argv)
    cpu = time.process_time() - start
    assert code == status, err[-2000:]
    assert re.search(pattern, err), err[-2000:]
    assert "Traceback" not in err
    assert len(err) < 40_000, f"{len(err):,} characters of diagnostics"
    assert all(len(line) < 400 for line in err.splitlines()), "a shown line is not cut to its window"
    assert cpu < CPU_S, f"{cpu:.2f} s of CPU"
    tracemalloc.start()
    try:
        _run(argv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_MB << 20, f"{peak / 1e6:.0f} MB"


def test_a_long_line_is_shown_around_its_caret(tmp_path):
    code, err = _run(
        _spec(tmp_path, NET.format("h = x" + " " * 100_000 + "-> nosuch -> relu" + " " * 1000 + "-> relu"))
    )
    assert code == 1
    shown, caret = [line for line in err.splitlines() if line.startswith("3 |") or line.startswith("  |  ")][:2]
    assert shown.startswith("3 | ...") and shown.endswith("...") and "-> nosuch -> relu" in shown
    assert len(shown) < 220
    # the caret sits under `nosuch` in the window shown
    assert caret.index("^") == shown.index("nosuch") and caret.count("^") == len("nosuch")


def test_only_the_first_100_diagnostics_are_shown(tmp_path):
    body = "\n  ".join(f"h{i} = x -> nosuch{i}" for i in range(150))
    code, err = _run(_spec(tmp_path, NET.format(body)))
    assert code == 1
    assert err.count("error[E0101]") == 100
    assert "50 more errors not shown" in err and err.rstrip().endswith("150 errors emitted")


@pytest.mark.parametrize("breaker", ["\u2028", "\x0c", "\u2029", "\x85", "\x1c", "\x0b"])
def test_a_line_break_python_knows_but_the_parser_does_not_shifts_no_line(tmp_path, breaker):
    code, err = _run(_spec(tmp_path, f"# a{breaker}b\n" + NET.format("h = x -> nosuch")))
    assert code == 1
    assert "bomb.cnn:4:12" in err
    assert "4 |   h = x -> nosuch\n  |            ^^^^^^" in err


@pytest.mark.parametrize(
    "attribute",
    [
        'dropout(float("nan"))',
        "leaky_relu(1e400)",
        "batchnorm(epsilon=-1e400)",
        "elu(alpha=-1e400)",
        "conv(4, 3, weights=[[1e400, 0, 0], [0, 0, 0], [0, 0, 0]])",
        'lrn(5, alpha=float("nan"))',
    ],
)
def test_nan_and_inf_attributes_are_refused_at_check_time(tmp_path, attribute):
    code, err = _run(_spec(tmp_path, NET.format(f"h = x -> {attribute}\n  h -> output z")))
    assert code == 1
    assert re.search(r"error\[E0201\]: `\w+` must be a finite number, got (-?inf|nan|\[\[inf)", err), err
