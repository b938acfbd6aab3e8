"""Errors that the library raises and the command line reports.

A mistake in a spec is a `cnnc.diagnostics.CnncError` (diagnostics that point
at the source).  A request that cannot be carried out whatever the spec says
(an unknown task, a task option of the wrong type) is a `UsageError`: the
command line prints its message and exits with status 2.  It lives here, at
the bottom of the layers, so that the library never imports the command line.
"""

from __future__ import annotations


class UsageError(Exception):
    """The caller asked for something that cannot be done: the message says what, for a person."""
