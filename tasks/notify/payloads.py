"""Webhook payloads: Luna's JSON event and a Slack Block Kit message, built from
``{"result": <RunResult as JSON>, "verdict": {...}, "links": {...}}``. Every key of the
input is optional, so a partial event still gives a well-formed payload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel

EVENT = "run.finished"


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return dict(value) if isinstance(value, Mapping) else {}


def _verdict(value: Any) -> Literal["pass", "fail"] | None:
    """'pass'/'fail' from a verdict string or dict (keys verdict/status/outcome/passed/ok)."""
    words = {"pass": "pass", "passed": "pass", "ok": "pass", "fail": "fail", "failed": "fail"}
    if isinstance(value, bool):
        return "pass" if value else "fail"
    if isinstance(value, str):
        found = words.get(value.strip().lower())
        return "pass" if found == "pass" else "fail" if found == "fail" else None
    data = _as_dict(value)
    for key in ("verdict", "status", "outcome", "passed", "ok"):
        if isinstance(data.get(key), str | bool):
            found_verdict = _verdict(data[key])
            if found_verdict is not None:
                return found_verdict
    return None


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def build_payload(event: Mapping[str, Any]) -> dict[str, Any]:
    """Luna's JSON payload from ``{"result": {...}, "verdict": {...}, "links": {...}}``.

    Every key of the input is optional; a missing value becomes None (or {}).
    """
    result = _as_dict(event.get("result"))
    total = _as_dict(result.get("total"))
    latency = _as_dict(total.get("latency_ms"))
    links = {str(k): str(v) for k, v in _as_dict(event.get("links")).items() if v}
    return {
        "event": EVENT,
        "service": result.get("service"),
        "profile": result.get("profile"),
        "target": result.get("target"),
        "run_id": result.get("run_id"),
        "status": result.get("status"),
        "verdict": _verdict(event.get("verdict")),
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
        "links": links,
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


def slack_payload(event: Mapping[str, Any]) -> dict[str, Any]:
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


def run_event(
    result: Any, verdict: Mapping[str, Any] | None = None, links: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The event dict the tasks take, from a RunResult (or its dict), a verdict and links."""
    return {"result": _as_dict(result), "verdict": dict(verdict) if verdict else None, "links": dict(links or {})}
