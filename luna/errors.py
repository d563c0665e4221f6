"""Every error Luna raises on purpose.

Class tree::

    LunaError                      kind, location, tip; exit code 2 unless stated
    ├── ConfigError                a setting (environment, .env, CLI flag) is wrong
    ├── EndpointsFileError         the endpoints file is missing, not JSON, or invalid
    ├── DataFileError              an endpoint's `data_file` is missing or unreadable
    ├── TargetError                the target cannot be reached before the run starts
    ├── ToolMissingError           k6 (or another binary) is not installed
    ├── K6RunError                 k6 cannot load or start the script
    ├── FlowFailed                 a flow ended without a result (a crash, an unexpected error)
    └── RunFailed                  the run finished but did not pass: a threshold or SLO
                                   was crossed (exit 1) or k6 ended in error (exit 2);
                                   `.result` holds the full RunResult

Each error renders as one line: ``<kind>: <message> (at <location>). Tip: <tip>``.
The CLI prints that line and exits with :attr:`LunaError.exit_code`; nothing else
about the error reaches the terminal, and the run folder keeps the same text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class LunaError(Exception):
    """Base class: a failure with a kind, where it happened, and what to do about it."""

    kind = "error"
    exit_code = 2

    def __init__(self, message: str, *, location: str | None = None, tip: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.tip = tip

    def one_line(self) -> str:
        text = f"{self.kind}: {self.message}"
        if self.location:
            text += f" (at {self.location})"
        if self.tip:
            text += f". Tip: {self.tip}"
        return " ".join(text.split())

    def __str__(self) -> str:
        return self.one_line()


class ConfigError(LunaError):
    kind = "config error"


class EndpointsFileError(LunaError):
    kind = "endpoints file error"


class DataFileError(LunaError):
    kind = "data file error"


class TargetError(LunaError):
    kind = "target unreachable"


class ToolMissingError(LunaError):
    kind = "missing tool"


class K6RunError(LunaError):
    kind = "k6 error"


class FlowFailed(LunaError):
    kind = "error"


class RunFailed(LunaError):
    """Carries the RunResult (and Verdict) of a run that did not pass, so a Failed flow
    state keeps them. Exit code 2 when k6 itself ended in error, 130 when the run was
    interrupted (aborted), else 1."""

    kind = "run failed"

    def __init__(self, result: Any, verdict: Any = None) -> None:
        reason = verdict.reason if verdict is not None else f"{result.status}: {result.message}"
        super().__init__(reason, location=str(result.run_dir))
        self.result = result
        self.verdict = verdict
        self.exit_code = {"error": 2, "aborted": 130}.get(result.status, 1)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.result, self.verdict))


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """The closest valid name to ``name``, phrased as a tip, or None."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None
