"""k6 duration strings (``30s``, ``1m30s``, ``1500ms``): the settings' validator and
their length in seconds."""

from __future__ import annotations

import re

K6_DURATION = re.compile(r"(\d+(\.\d+)?(ms|s|m|h))+")
DURATION_HELP = "a k6 duration such as 30s, 5m, 1h30m or 1500ms"
# k6 refuses a constant-vus or constant-arrival-rate duration under 1 s (smoke), and a hold
# shorter than that measures nothing: SMOKE_DURATION, DURATION and SOAK_DURATION are >= 1 s.
MIN_HOLD_SECONDS = 1.0


def k6_duration(value: str) -> str:
    if not K6_DURATION.fullmatch(value):
        raise ValueError(f"expected {DURATION_HELP}")
    return value


def duration_seconds(value: str) -> float:
    """Seconds in a k6 duration string (``1m30s`` -> 90.0)."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * units[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)(ms|s|m|h)", value))
