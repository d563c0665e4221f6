"""Every error Luna raises on purpose, in one module (the stages import them from here).

Class tree::

    LunaError                      kind, location, tip; exit code 2 unless stated
    ├── ConfigError                a setting (environment, .env, CLI flag) is wrong
    ├── EndpointsFileError         the endpoints file is missing, not JSON, or invalid
    ├── DataFileError              an endpoint's `data_file` is missing or unreadable
    ├── TargetError                the target cannot be reached before the run starts
    ├── ToolMissingError           k6 (or another binary) is not installed
    ├── K6RunError                 k6 cannot load or start the script
    ├── LoaderError                discovery: a source that cannot become endpoints;
    │                              `.loader_kind` is syntax, format, invalid, reference,
    │                              too_large or unsafe
    ├── GenerationError            a suite cannot be generated (bad input, unsafe path)
    ├── SuiteRunError              a generated suite could not run
    ├── HookError                  a plugin hook failed and LUNA_HOOKS_STRICT is on
    ├── ShardError                 a shard could not start, never got ready, or failed
    ├── FlowFailed                 a flow ended without a result (a crash, an unexpected error)
    ├── RunFailed                  the run finished but did not pass: a threshold or SLO
    │                              was crossed (exit 1) or k6 ended in error (exit 2);
    │                              `.result` holds the full RunResult, `.verdict` the Verdict
    ├── SuiteFailed                tests of a suite failed (exit 1); `.run` is the SuiteRun
    └── PipelineFailed             a test-service stage failed or errored (exit 1);
                                   `.result` is the PipelineResult

    Exception (not LunaError: control flow inside one component, never shown as such)
    ├── Rejected                   the webhook gateway refuses a delivery; `.status` is the
    │                              HTTP code, the message is safe to return
    ├── Ignored                    a verified webhook delivery that starts nothing
    └── ShardRunFailed             a shard's flow run (work-pool engine) did not complete

Each error renders as one line: ``<kind>: <message> (at <location>). Tip: <tip>``.
The CLI prints that line and exits with :attr:`LunaError.exit_code`; nothing else
about the error reaches the terminal, and the run folder keeps the same text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal


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


LoaderErrorKind = Literal["syntax", "format", "invalid", "reference", "too_large", "unsafe"]


class LoaderError(LunaError):
    """A source that cannot be turned into endpoints. `loader_kind` classifies it."""

    kind = "discovery error"

    def __init__(self, loader_kind: LoaderErrorKind, message: str, *, location: str, tip: str) -> None:
        super().__init__(f"{loader_kind}: {message}", location=location, tip=tip)
        self.loader_kind = loader_kind


class GenerationError(LunaError):
    """A suite cannot be generated (bad input, an unsafe path, a broken custom section)."""

    kind = "generation error"


class SuiteRunError(LunaError):
    """A suite that could not run (as opposed to tests that ran and failed)."""

    kind = "suite error"


class HookError(LunaError):
    """A hook failed to import, raised or timed out, and strict mode is on."""

    kind = "hook error"


class ShardError(LunaError):
    """A shard could not start, never became ready, or failed and stopped the run."""

    kind = "shard failed"


class SuiteFailed(LunaError):
    """Tests of a suite failed; carries the SuiteRun (exit code 1)."""

    kind = "tests failed"
    exit_code = 1

    def __init__(self, run: Any) -> None:
        super().__init__(run.headline(), location=run.suite_dir)
        self.run = run

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.run,))


class PipelineFailed(LunaError):
    """A pipeline run with a failed or errored stage; carries the PipelineResult."""

    kind = "pipeline failed"
    exit_code = 1

    def __init__(self, result: Any) -> None:
        problems = result.problems()
        super().__init__(
            "; ".join(problems) if problems else "a stage did not pass",
            location=str(Path(result.out_dir) / "report.md"),
        )
        self.result = result

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.result,))


class Rejected(Exception):
    """A delivery the gateway refuses: ``status`` is the HTTP code, the message is safe to return."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Ignored(Exception):
    """A verified delivery that starts nothing (the message says why)."""


class ShardRunFailed(Exception):
    """A shard's flow run ended in a state other than Completed, or never ended."""


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """The closest valid name to ``name``, phrased as a tip, or None."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None
