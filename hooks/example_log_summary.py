"""Example Luna hook: after each run, append one line to `<run_dir>/hook-example.log`.

    2025-01-31T10:00:00+00:00 run=20250131-100000-smoke-ab12 status=passed p95_ms=41.3

Harmless: it writes only inside the run's own folder, skips runs without a folder, and
never raises for a missing number. Copy it as a starting point (see docs/PLUGINS.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tasks.notify.hooks import HookContext


def on_run_finish(context: HookContext) -> None:
    run_dir = Path(context.run_dir) if context.run_dir else None
    if run_dir is None or not run_dir.is_dir():
        return
    result = context.result or {}
    p95 = ((result.get("total") or {}).get("latency_ms") or {}).get("p95")
    p95_text = "-" if p95 is None else f"{p95:.1f}"
    line = f"{datetime.now(UTC).isoformat(timespec='seconds')} run={context.run_id} status={result.get('status', '-')} p95_ms={p95_text}\n"
    with (run_dir / "hook-example.log").open("a", encoding="utf-8") as log:
        log.write(line)
