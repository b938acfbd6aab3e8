"""The diagnostics of one expansion: every error once, answered with `POISON`."""

from __future__ import annotations

from cnnc.diagnostics import CnncError, Diagnostic, Span, did_you_mean
from cnnc.expand.values import POISON, Poison
from cnnc.limits import MAX_DIAGNOSTICS

# Errors reported (a loop's repeats included) before the expansion stops: past this the rest
# follow from the first ones, and a loop of 99,999 mistakes would cost seconds to say nothing new.
MAX_REPORTS = 10 * MAX_DIAGNOSTICS


class Reporter:
    """Collects diagnostics; a loop body repeats its mistakes, so each is said once."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._reported: set[tuple] = set()
        self._reports = 0

    def report(self, code: str, message: str, span: Span | None, **extra) -> Poison:
        """Record an error; the poisoned result silences the errors that would follow from it."""
        key = (code, message, span)
        if key not in self._reported:
            self._reported.add(key)
            self.diagnostics.append(Diagnostic("error", code, message, span, **extra))
        self._reports += 1
        if self._reports > MAX_REPORTS:
            raise CnncError(
                Diagnostic(
                    "error",
                    "E0901",
                    f"too many errors: cnnc stopped expanding after {MAX_REPORTS:,}",
                    span,
                    help="fix the first ones and check again",
                )
            )
        return POISON

    def unknown_name(self, name: str, span: Span, visible: list[str]) -> Poison:
        return self.report("E0102", f"unknown name `{name}`", span, help=did_you_mean(name, visible))
