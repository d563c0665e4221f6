"""k6's repeated log lines, aggregated before they reach the run log (and Prefect's).

A dead or resetting target makes k6 warn once per failed request ("Request Failed ...
connection refused"): 22,058 Prefect log rows for 15 s at 2 VUs, and the CLI waited 40 s
for Prefect to ship them. Failure samples are already capped (k6.py); k6's own warnings
and errors go through :class:`RepeatedLines`:

- the first ``FIRST_SHOWN`` lines of each message pass as they are;
- after that a message is counted, and at most once per ``WINDOW_S`` seconds one line
  says how many times it came since the last one: ``k6 warning (x1234 in the last 1.0 s): ...``;
- :meth:`RepeatedLines.flush` (the end of the run) writes what is still counted.

A message is its level and text with numbers, quoted strings and URLs folded, so the same
failure on two ports, paths or ids is one message. At most ``MAX_MESSAGES`` messages are
told apart; the rest are counted together under "other k6 messages". `k6.log` on disk
keeps every line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

LineSink = Callable[[str, str], None]  # (level, text), as in tasks/execution/k6.py

FIRST_SHOWN = 3
WINDOW_S = 1.0
MAX_MESSAGES = 200
OTHER = "other k6 messages"

_FOLD = re.compile(r'"[^"]*"|\'[^\']*\'|https?://\S+|\d+(\.\d+)?')


def message_key(level: str, text: str) -> str:
    """What makes two lines "the same message": the level and the text's shape."""
    return f"{level}|{_FOLD.sub('#', text)}"


@dataclass
class _Seen:
    level: str
    total: int = 0
    pending: int = 0  # counted since the last line shown
    last_text: str = ""
    window_start: float = 0.0


@dataclass
class RepeatedLines:
    """In front of a LineSink: `emit(level, message)` for each k6 log record, `flush()` at the
    end. The sink gets ``k6 LEVEL: message`` lines, or the counted ones."""

    sink: LineSink
    clock: Callable[[], float] = time.monotonic
    seen: dict[str, _Seen] = field(default_factory=dict)

    def emit(self, level: str, text: str) -> None:
        key = message_key(level, text)
        if key not in self.seen and len(self.seen) >= MAX_MESSAGES:
            key = message_key(level, OTHER)
        entry = self.seen.setdefault(key, _Seen(level))
        entry.total += 1
        now = self.clock()
        if entry.total <= FIRST_SHOWN:
            self.sink(level, f"k6 {level}: {text}")
            entry.window_start = now
            return
        entry.pending += 1
        entry.last_text = text
        if now - entry.window_start >= WINDOW_S:
            self._show(entry, now)

    def flush(self) -> None:
        """Show every message still counted (call once k6 has ended)."""
        now = self.clock()
        for entry in self.seen.values():
            if entry.pending:
                self._show(entry, now)

    def _show(self, entry: _Seen, now: float) -> None:
        span = max(now - entry.window_start, 0.0)
        self.sink(entry.level, f"k6 {entry.level} (x{entry.pending} in the last {span:.1f} s): {entry.last_text}")
        entry.pending, entry.window_start = 0, now

    @property
    def repeated(self) -> int:
        """Lines counted instead of shown (all messages)."""
        return sum(max(0, e.total - FIRST_SHOWN) for e in self.seen.values())
