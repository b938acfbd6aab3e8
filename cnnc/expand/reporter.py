"""The diagnostics of one expansion: every error once, answered with `POISON`."""

from __future__ import annotations

from cnnc.diagnostics import Diagnostic, Span, did_you_mean
from cnnc.expand.values import POISON, Poison


class Reporter:
    """Collects diagnostics; a loop body repeats its mistakes, so each is said once."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._reported: set[tuple] = set()

    def report(self, code: str, message: str, span: Span | None, **extra) -> Poison:
        """Record an error; the poisoned result silences the errors that would follow from it."""
        key = (code, message, span)
        if key not in self._reported:
            self._reported.add(key)
            self.diagnostics.append(Diagnostic("error", code, message, span, **extra))
        return POISON

    def unknown_name(self, name: str, span: Span, visible: list[str]) -> Poison:
        return self.report("E0102", f"unknown name `{name}`", span, help=did_you_mean(name, visible))
