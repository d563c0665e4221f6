"""Webhook payloads: Luna's JSON event and a Slack Block Kit message, built from one
:class:`RunEvent` (what is known of the run, its outcome and links). The outcome is decided
by whoever builds the event (:func:`run_event` from a Verdict, "pass"/"fail" or a bool);
notify never guesses it. Every field of the run is optional, so a partial event still
gives a well-formed payload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from luna.verdict import Verdict, VerdictStatus

EVENT = "run.finished"
Outcome = VerdictStatus


class EventLatency(BaseModel):
    model_config = ConfigDict(extra="ignore")

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class EventTotals(BaseModel):
    """The run's totals an event reports (a RunResult's `total`, read leniently)."""

    model_config = ConfigDict(extra="ignore")

    requests: int | None = None
    rps: float | None = None
    latency_ms: EventLatency = Field(default_factory=EventLatency)
    error_rate: float | None = None
    check_pass_rate: float | None = None

    @field_validator("latency_ms", mode="before")
    @classmethod
    def _no_latency(cls, value: Any) -> Any:
        return {} if value is None else value


class EventRun(BaseModel):
    """What an event says about the run: a RunResult's fields, a pipeline's summary, or what
    is known of a run that ended before its result (every field optional)."""

    model_config = ConfigDict(extra="ignore")

    run_id: str | None = None
    service: str | None = None
    profile: str | None = None
    target: str | None = None
    status: str | None = Field(None, description="passed, failed, error, aborted, crashed...")
    message: str | None = None
    started_at: str | None = Field(None, description="ISO 8601.")
    finished_at: str | None = Field(None, description="ISO 8601.")
    total: EventTotals = Field(default_factory=EventTotals)

    @field_validator("total", mode="before")
    @classmethod
    def _no_total(cls, value: Any) -> Any:
        return {} if value is None else value


class RunEvent(BaseModel):
    """The one event notify delivers about a run: a load test, a test-service pipeline, or a
    run that ended before its verdict."""

    run: EventRun = Field(default_factory=EventRun, description="The run the event is about.")
    verdict: Outcome | None = Field(None, description="pass or fail; None when the run reached no verdict.")
    links: dict[str, str] = Field(default_factory=dict, description="Report, Grafana and Prefect links by name.")


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return dict(value) if isinstance(value, Mapping) else {}


def outcome(verdict: Verdict | Outcome | bool | None) -> Outcome | None:
    """The run's outcome from a Verdict, "pass"/"fail", a bool (passed) or None."""
    if verdict is None:
        return None
    if isinstance(verdict, Verdict):
        return verdict.status
    if isinstance(verdict, bool):
        return "pass" if verdict else "fail"
    if verdict in ("pass", "fail"):
        return verdict
    raise TypeError(f"a run's outcome is a Verdict, 'pass', 'fail', a bool or None, not {verdict!r}")


def run_event(
    result: Any,
    verdict: Verdict | Outcome | bool | None = None,
    links: BaseModel | Mapping[str, str | None] | None = None,
) -> RunEvent:
    """The event for a RunResult (or a mapping of its fields), its verdict and links (a
    ReportLinks or a mapping; empty links dropped)."""
    kept = {str(k): str(v) for k, v in _as_dict(links).items() if v}
    return RunEvent(run=EventRun.model_validate(_as_dict(result)), verdict=outcome(verdict), links=kept)


def build_payload(event: RunEvent) -> dict[str, Any]:
    """Luna's JSON payload; what the event does not know is None."""
    run, total = event.run, event.run.total
    return {
        "event": EVENT,
        "service": run.service,
        "profile": run.profile,
        "target": run.target,
        "run_id": run.run_id,
        "status": run.status,
        "verdict": event.verdict,
        "message": run.message,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "totals": {
            "requests": total.requests,
            "rps": total.rps,
            "p50_ms": total.latency_ms.p50,
            "p95_ms": total.latency_ms.p95,
            "p99_ms": total.latency_ms.p99,
            "error_rate": total.error_rate,
            "check_pass_rate": total.check_pass_rate,
        },
        "links": dict(event.links),
    }


EMOJI = {
    "pass": ":white_check_mark:",
    "fail": ":x:",
    "passed": ":white_check_mark:",
    "failed": ":x:",
    "error": ":warning:",
    "aborted": ":no_entry_sign:",
}


def _slack_escape(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(event: RunEvent) -> dict[str, Any]:
    """A Slack incoming-webhook message (``text`` fallback + Block Kit ``blocks``)."""
    data = build_payload(event)
    totals = data["totals"]
    outcome = str(data["verdict"] or data["status"] or "unknown")
    emoji = EMOJI.get(outcome, ":grey_question:")
    service = _slack_escape(data["service"] or "(no service)")
    profile = _slack_escape(data["profile"] or "?")
    p95 = "-" if totals["p95_ms"] is None else f"{totals['p95_ms']:.1f} ms"
    errors = "-" if totals["error_rate"] is None else f"{totals['error_rate'] * 100:.2f}%"
    links = [
        f"<{url}|{_slack_escape(name)}>"
        if url.startswith(("http://", "https://"))
        else f"{_slack_escape(name)}: `{_slack_escape(url)}`"
        for name, url in data["links"].items()
    ]
    headline = f"{emoji} *{_slack_escape(outcome).upper()}* · *{service}* · {profile}"
    body = headline + f"\n*p95* {p95} · *errors* {errors}"
    if data["message"]:
        body += f"\n{_slack_escape(data['message'])[:1000]}"
    if links:
        body += "\n" + " · ".join(links)
    text = (
        f"{outcome.upper()}: {data['service'] or '(no service)'} {data['profile'] or '?'} (p95 {p95}, errors {errors})"
    )
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}}]
    if data["run_id"]:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"run `{_slack_escape(data['run_id'])}`"}]}
        )
    return {"text": text, "blocks": blocks}
