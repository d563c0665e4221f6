"""A process-local signal: "k6 has finished for run X".

The `load_test` flow announces it right after k6 ends, before the verdict and the reports.
`test-service` waits for it to start its Lighthouse and visual-QA subflows, so the browser
stages never compete with k6 for the machine yet run while the load's reports are written.
Only a run somebody waits for is tracked, so a long-lived worker keeps nothing.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_waiting: dict[str, threading.Event] = {}


def expect_k6_finished(run_id: str) -> threading.Event:
    """Register interest in `run_id` (before its run starts); the event is set when k6 ends."""
    with _lock:
        return _waiting.setdefault(run_id, threading.Event())


def announce_k6_finished(run_id: str) -> None:
    """k6 is done for `run_id` (ended, failed or never started); wakes whoever waits."""
    with _lock:
        event = _waiting.pop(run_id, None)
    if event is not None:
        event.set()
