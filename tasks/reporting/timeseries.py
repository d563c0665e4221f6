"""The run's per-period time series: Luna's own `series.json` (tasks/execution/series.py),
or, for a run folder without it (k6's web dashboard on, a run of an earlier Luna), k6's
web-dashboard export (`k6-report.html`).

The export embeds k6's own aggregates in ``<script id="data" type="application/json;
charset=utf-8; gzip; base64">``: base64 of gzip of newline-delimited JSON events.

- ``param``: ``period`` (ms) and ``aggregates``, the value names per metric type, e.g.
  ``trend: [avg, max, med, min, p(90), p(95), p(99)]``, ``counter: [count, rate]``.
- ``metric``: ``{name: {type, contains}}``; later events add names (submetrics included).
- ``start`` / ``snapshot`` / ``cumulative`` / ``stop``: one array per known metric name,
  aligned with the names **sorted** (the dashboard's own decoder sorts them), each array
  holding that type's aggregates in param order; ``[]`` when the period had no sample.
  A ``snapshot`` covers one period; the ``time`` gauge is the period's end (epoch ms).

k6 leaves the export out (or empty) when a run is shorter than a few periods, so a missing
file, no snapshots or any odd content give None: the report then says so.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from pathlib import Path
from typing import Any

from luna.results import TimeSeries

DATA_ELEMENT = re.compile(r"<script\b[^>]*\bid=[\"']data[\"'][^>]*>(.*?)</script>", re.S | re.I)
MAX_DECODED_BYTES = 64 * 1024 * 1024  # a week-long soak is a few MB; refuse gzip bombs
DEFAULT_AGGREGATES = {
    "counter": ["count", "rate"],
    "gauge": ["value"],
    "rate": ["rate"],
    "trend": ["avg", "max", "med", "min", "p90", "p95", "p99"],
}


class _Decoder:
    """Maps snapshot arrays to {metric: {aggregate: value}} the way the dashboard does."""

    def __init__(self) -> None:
        self.types: dict[str, str] = {}
        self.names: list[str] = []
        self.aggregates = dict(DEFAULT_AGGREGATES)
        self.period_ms = 0.0

    def param(self, data: dict[str, Any]) -> None:
        self.period_ms = float(data.get("period") or 0)
        aggregates = data.get("aggregates")
        if isinstance(aggregates, dict):
            for kind, names in aggregates.items():
                if isinstance(names, list):
                    self.aggregates[str(kind)] = [str(n).replace("(", "").replace(")", "") for n in names]

    def metric(self, data: dict[str, Any]) -> None:
        for name, info in data.items():
            self.types[str(name)] = str(info.get("type", "")) if isinstance(info, dict) else ""
        self.names = sorted(self.types)

    def values(self, rows: list[Any]) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for name, row in zip(self.names, rows, strict=False):
            if not isinstance(row, list) or not row:
                continue
            labels = self.aggregates.get(self.types[name], [])
            out[name] = {label: float(v) for label, v in zip(labels, row, strict=False) if isinstance(v, int | float)}
        return out


def decode_events(report_html: Path) -> list[dict[str, Any]]:
    """The export's events, in order; raises ValueError/OSError on anything unexpected."""
    text = report_html.read_text(encoding="utf-8", errors="replace")
    match = DATA_ELEMENT.search(text)
    if match is None:
        raise ValueError("no data element")
    packed = base64.b64decode("".join(match.group(1).split()), validate=True)
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header
    raw = inflater.decompress(packed, MAX_DECODED_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError("decoded data too large")
    events = []
    for line in raw.decode("utf-8").splitlines():
        if line.strip():
            event = json.loads(line)
            if isinstance(event, dict):
                events.append(event)
    return events


def _series(events: list[dict[str, Any]]) -> TimeSeries | None:
    decoder = _Decoder()
    start_ms: float | None = None
    points: list[dict[str, dict[str, float]]] = []
    for event in events:
        kind, data = event.get("event"), event.get("data")
        if kind == "param" and isinstance(data, dict):
            decoder.param(data)
        elif kind == "metric" and isinstance(data, dict):
            decoder.metric(data)
        elif kind == "start" and isinstance(data, list):
            start_ms = decoder.values(data).get("time", {}).get("value")
        elif kind == "snapshot" and isinstance(data, list):
            points.append(decoder.values(data))
    if not points:
        return None
    period_s = decoder.period_ms / 1000 if decoder.period_ms > 0 else 1.0
    timestamps: list[float] = []
    columns: dict[str, list[float | None]] = {k: [] for k in ("p50", "p95", "p99", "err", "vus", "checks")}
    rps: list[float] = []
    vus: float | None = None
    for i, point in enumerate(points):
        end_ms = point.get("time", {}).get("value")
        if end_ms is not None and start_ms is not None:
            timestamps.append(round(max(0.0, (end_ms - start_ms) / 1000), 3))
        else:
            timestamps.append(round((i + 1) * period_s, 3))
        reqs = point.get("http_reqs", {})
        rps.append(reqs.get("rate", reqs.get("count", 0.0) / period_s))
        latency = point.get("http_req_duration", {})
        columns["p50"].append(latency.get("med"))
        columns["p95"].append(latency.get("p95"))
        columns["p99"].append(latency.get("p99"))
        columns["err"].append(point.get("http_req_failed", {}).get("rate"))
        vus = point.get("vus", {}).get("value", vus)
        columns["vus"].append(vus)
        columns["checks"].append(point.get("checks", {}).get("rate"))
    return TimeSeries(
        period_s=period_s,
        timestamps=timestamps,
        rps=rps,
        p50_ms=columns["p50"],
        p95_ms=columns["p95"],
        p99_ms=columns["p99"],
        error_rate=columns["err"],
        vus=columns["vus"],
        checks_rate=columns["checks"],
    )


def read_series(report_html: Path) -> TimeSeries | None:
    """The run's per-period series, or None when the export is missing, empty or unreadable."""
    try:
        if not report_html.is_file():
            return None
        return _series(decode_events(report_html))
    except (OSError, ValueError, TypeError, KeyError, AttributeError, EOFError, zlib.error, binascii.Error):
        # ValueError covers bad JSON, bad UTF-8, bad base64 and pydantic validation.
        return None


def run_series(run_dir: Path, files: dict[str, str]) -> TimeSeries | None:
    """The run's series: series.json when the run wrote it, else the k6 dashboard export."""
    own = run_dir / files.get("series", "series.json")
    if own.is_file():
        try:
            return TimeSeries.model_validate_json(own.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass  # a damaged file: the export may still hold the series
    return read_series(run_dir / files.get("k6_report", "k6-report.html"))
