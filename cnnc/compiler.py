"""The front end as one call: load, expand, run the passes.

`analyze` never imports a framework: `cnnc check` and `cnnc summary` stand on
it alone.  It returns diagnostics instead of raising for a user's mistake.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cnnc.diagnostics import CnncError, Diagnostic, SourceCache, Span, did_you_mean
from cnnc.expand.expander import Expander
from cnnc.expand.loader import load
from cnnc.ir.graph import Graph
from cnnc.limits import EXPANSION_STACK
from cnnc.passes import cost, coverage, receptive, verify
from cnnc.passes.cost import Cost


@dataclass
class Analysis:
    graph: Graph | None
    diagnostics: list[Diagnostic]
    sources: SourceCache
    cost: Cost = field(default_factory=Cost)

    @property
    def ok(self) -> bool:
        return self.graph is not None and not any(d.is_error for d in self.diagnostics)


def analyze(
    path: Path | str,
    text: str | None = None,
    *,
    network: str | None = None,
    overrides: dict[str, object] | None = None,
    input_shapes: dict[str | None, tuple[int, ...]] | None = None,
) -> Analysis:
    """Check a spec.  OSError/UnicodeDecodeError from reading `path` propagate (exit 2)."""
    with _no_cyclic_gc():
        return _analyze(Path(path), text, network, overrides, input_shapes)


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    # Parsing and expansion allocate many small objects and free nearly all of them
    # by reference counting; the cyclic collector's full passes over a growing heap
    # made a 10,000-layer spec cost 12.9x a 1,000-layer one instead of 10x.  The
    # work is bounded by the spec limits (E0601), so pausing it here is safe.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _analyze(
    path: Path,
    text: str | None,
    network: str | None,
    overrides: dict[str, object] | None,
    input_shapes: dict[str | None, tuple[int, ...]] | None,
) -> Analysis:
    program = load(path, text)
    diagnostics = list(program.diagnostics)
    result = Analysis(None, diagnostics, program.sources)
    if any(d.is_error for d in diagnostics):
        return result
    definition = _pick_network(program.networks, network, str(path), diagnostics)
    if definition is None:
        return result
    expander = Expander(program, definition, overrides, input_shapes)
    try:
        with _stack_budget(EXPANSION_STACK):
            graph = expander.run()
    except CnncError as exc:
        diagnostics += expander.diagnostics + exc.diagnostics
        return result
    except RecursionError:
        # Expressions, bodies and blocks expand recursively: refuse what Python's stack cannot hold.
        diagnostics += expander.diagnostics + [
            Diagnostic(
                "error",
                "E0601",
                "the spec nests too deeply",
                definition.name_span,
                notes=["expressions, `if`/`for`/`repeat` bodies and block calls nest a few hundred levels at most"],
                help="name intermediate values instead of nesting them",
            )
        ]
        return result
    diagnostics += expander.diagnostics
    if any(d.is_error for d in diagnostics):
        return result
    diagnostics += verify.run(graph)
    if any(d.is_error for d in diagnostics):
        return result
    diagnostics += coverage.run(graph)
    result.graph = graph
    result.cost = cost.run(graph)
    receptive.run(graph)
    return result


@contextlib.contextmanager
def _stack_budget(frames: int) -> Iterator[None]:
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def _pick_network(networks: dict, wanted: str | None, file: str, diagnostics: list[Diagnostic]):
    if wanted is not None:
        if wanted in networks:
            return networks[wanted]
        diagnostics.append(
            Diagnostic("error", "E0002", f"no network `{wanted}` in {file}", None, help=did_you_mean(wanted, networks))
        )
        return None
    if len(networks) == 1:
        return next(iter(networks.values()))
    if not networks:
        diagnostics.append(
            Diagnostic(
                "error",
                "E0002",
                "the spec defines no network",
                Span(file, 1, 1, 1, 2),
                help="add `network Name() { ... }`",
            )
        )
    else:
        diagnostics.append(
            Diagnostic(
                "error",
                "E0002",
                f"the spec defines {len(networks)} networks",
                None,
                help=f"choose one with --network ({', '.join(networks)})",
            )
        )
    return None
