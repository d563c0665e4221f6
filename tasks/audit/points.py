"""Lighthouse points for Grafana's score trends: measurement `luna_lighthouse`, one point
per page and preset, tagged url/preset/run_id/status; fields are the 0-100 scores, the
metrics that were measured and `passed` (1/0)."""

from __future__ import annotations

from luna.influx import Influx, line
from tasks.audit.model import LighthouseResult

MEASUREMENT = "luna_lighthouse"


def lighthouse_points(result: LighthouseResult) -> list[str]:
    lines = []
    for page in result.pages:
        if page.status != "ok":
            continue  # nothing was measured; the report and the table say why
        fields: dict[str, float | int] = {"passed": int(page.passed)}
        for key, value in {**page.scores, **page.metrics}.items():
            if value is not None:
                fields[key] = float(value)
        tags = {"url": page.url, "preset": page.preset, "run_id": result.run_id, "status": page.status}
        lines.append(line(MEASUREMENT, tags, fields, result.finished_at))
    return lines


def write_lighthouse_points(client: Influx, result: LighthouseResult) -> int:
    """Write the points (idempotent: same series and time overwrite); raises on failure."""
    lines = lighthouse_points(result)
    client.write(lines)
    return len(lines)
