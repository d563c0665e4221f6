"""Webhook payloads: Luna's JSON event and a Slack Block Kit message, built from one
:class:`RunEvent` (the run's result as JSON, its outcome and links). The outcome is decided
by whoever builds the event (:func:`run_event` from a Verdict, "pass"/"fail" or a bool);
notify never guesses it. Every key of the result is optional, so a partial event still
gives a well-formed payload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from luna.verdict import Verdict, VerdictStatus

EVENT = "run.finished"
Outcome = VerdictStatus


class RunEvent(BaseModel):
    """The one event notify delivers about a run: a load test, a test-service pipeline, or a
    run that ended before its verdict."""

    result: dict[str, Any] = Field(
        default_factory=dict, description="The RunResult (or the pipeline's summary) as JSON."
    )
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
    """The event for a RunResult (or its dict), its verdict and links (a ReportLinks or a
    mapping; empty links dropped)."""
    kept = {str(k): str(v) for k, v in _as_dict(links).items() if v}
    return RunEvent(result=_as_dict(result), verdict=outcome(verdict), links=kept)


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def build_payload(run: RunEvent) -> dict[str, Any]:
    """Luna's JSON payload. Every key of the result is optional; a missing value becomes None."""
    result = run.result
    total = _as_dict(result.get("total"))
    latency = _as_dict(total.get("latency_ms"))
    return {
        "event": EVENT,
        "service": result.get("service"),
        "profile": result.get("profile"),
        "target": result.get("target"),
        "run_id": result.get("run_id"),
        "status": result.get("status"),
        "verdict": run.verdict,
        "message": result.get("message"),
        "started_at": result.get("started_at"),
        "finished_at": result.get("finished_at"),
        "totals": {
            "requests": _number(total.get("requests")),
            "rps": _number(total.get("rps")),
            "p50_ms": _number(latency.get("p50")),
            "p95_ms": _number(latency.get("p95")),
            "p99_ms": _number(latency.get("p99")),
            "error_rate": _number(total.get("error_rate")),
            "check_pass_rate": _number(total.get("check_pass_rate")),
        },
        "links": dict(run.links),
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
