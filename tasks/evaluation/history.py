"""Run history as keyed Prefect artifacts: one table artifact per run, keyed by service and
profile, so the Prefect UI lists the history (artifact versions) and any worker talking to
the same server finds the baseline."""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any

from luna.keys import artifact_key, legacy_artifact_key, service_key_pattern, slug
from luna.results import RunResult
from tasks.evaluation.compare import TOTAL, EndpointRecord, RunRecord

COLUMNS = (
    "run_id",
    "started_at",
    "verdict",
    "endpoint",
    "requests",
    "rps",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "error_rate",
    "duration_s",
    "service",
    "profile",
    "finished_at",
    "load_model",
    "load_shape",
    "generator",
)


def history_key(service: str | None, profile: str) -> str:
    return artifact_key("luna-history", service, profile)


def history_key_pattern(service: str) -> str:
    """The LIKE pattern of one service's history keys, every profile (exact name, no prefix)."""
    return service_key_pattern("luna-history", service)


def history_rows(result: RunResult, verdict: str) -> list[dict[str, Any]]:
    record = RunRecord.from_result(result, verdict)
    rows = []
    for name, e in record.endpoints.items():
        rows.append(
            {
                "run_id": record.run_id,
                "started_at": record.started_at.isoformat(),
                "verdict": verdict,
                "endpoint": name,
                "requests": e.requests,
                "rps": round(e.rps, 3),
                "p90_ms": e.p90,
                "p95_ms": e.p95,
                "p99_ms": e.p99,
                "error_rate": e.error_rate,
                "duration_s": record.duration_s,
                "service": record.service,
                "profile": record.profile,
                "finished_at": record.finished_at.isoformat() if record.finished_at else None,
                "load_model": record.load_model,
                "load_shape": json.dumps(record.load_shape, sort_keys=True) if record.load_shape else None,
                "generator": f"saturated: {record.saturation}" if record.saturated else "ok",
            }
        )
    return rows


def record_from_rows(rows: list[dict[str, Any]]) -> RunRecord | None:
    if not rows:
        return None
    first = rows[0]
    endpoints = {
        str(r["endpoint"]): EndpointRecord(
            name=str(r["endpoint"]),
            requests=int(r["requests"] or 0),
            rps=float(r["rps"] or 0),
            p90=r.get("p90_ms"),
            p95=r.get("p95_ms"),
            p99=r.get("p99_ms"),
            error_rate=r.get("error_rate"),
        )
        for r in rows
    }
    shape: dict[str, str] | None = None
    with suppress(TypeError, ValueError):
        loaded = json.loads(first.get("load_shape") or "null")
        shape = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else None
    generator = str(first.get("generator") or "")
    return RunRecord(
        run_id=str(first["run_id"]),
        service=first.get("service"),
        profile=str(first["profile"]),
        started_at=first["started_at"],
        verdict=str(first["verdict"]),
        duration_s=first.get("duration_s"),
        endpoints=endpoints,
        finished_at=first.get("finished_at") or None,
        load_model=first.get("load_model"),
        load_shape=shape,
        saturated=generator.startswith("saturated"),
        saturation=generator.removeprefix("saturated: ") if generator.startswith("saturated") else "",
    )


def _table(data: Any) -> list[dict[str, Any]]:
    table = json.loads(data) if isinstance(data, str) else data
    return [row for row in table if isinstance(row, dict)] if isinstance(table, list) else []


def read_history(service: str | None, profile: str | None = None, limit: int = 200) -> list[RunRecord]:
    """Past runs, newest first, from the Prefect API this process is configured for."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    if profile:
        filters = [
            ArtifactFilterKey(
                any_=[history_key(service, profile), legacy_artifact_key("luna-history", service, profile)]
            )
        ]
    elif service:
        legacy = f"luna-history-{slug(service)}-%"
        filters = [ArtifactFilterKey(like_=history_key_pattern(service)), ArtifactFilterKey(like_=legacy)]
    else:
        filters = [ArtifactFilterKey(like_="luna-history-%")]
    with get_client(sync_client=True) as client:
        artifacts = [
            a
            for key in filters
            for a in client.read_artifacts(
                artifact_filter=ArtifactFilter(key=key), sort=ArtifactSort.CREATED_DESC, limit=limit
            )
        ]
    artifacts = sorted(
        {a.id: a for a in artifacts}.values(), key=lambda a: a.created.timestamp() if a.created else 0.0, reverse=True
    )[:limit]
    records = [record_from_rows(_table(a.data)) for a in artifacts]
    # The key's hash already separates names; the rows' own exact name is the last word.
    return [r for r in records if r is not None and (service is None or r.service == service)]


def total_of(record: RunRecord) -> EndpointRecord | None:
    return record.endpoints.get(TOTAL)
