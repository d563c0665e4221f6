"""A target that resets every connection makes k6 warn once per request; the run log (and so
Prefect's) gets each message a few times and then one counted line per second, and the
counts add up to what k6 wrote in k6.log. Issue 13, "a dead target floods the Prefect log"."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks.execution.k6_log import FIRST_SHOWN, message_key
from tests.conftest import Runner, write_catalog

pytestmark = pytest.mark.integration
COUNTED = re.compile(r"^warning k6 warning \(x(\d+) in the last [\d.]+ s\): (.*)$")


@pytest.fixture
def resetting_target() -> Iterator[str]:
    """Accepts each connection and closes it at once: every request fails (EOF)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_repeated_k6_warnings_are_counted_not_flooded(tmp_path: Path, load_run: Runner, resetting_target: str) -> None:
    catalog = write_catalog(tmp_path / "e.json", [{"name": "Dead", "group": "g", "path": "/dead"}])
    lines: list[str] = []
    result = load_run(resetting_target, catalog, "smoke", lines=lines, smoke_vus=2, smoke_duration="3s")
    records = [json.loads(x) for x in (Path(result.run_dir) / "k6.log").read_text().splitlines() if x.startswith("{")]
    k6_warnings = [r for r in records if r.get("level") == "warning" and r.get("msg") == "Request Failed"]
    assert len(k6_warnings) > 100  # the flood really happened (k6.log keeps every line)

    in_log = Counter(message_key("warning", f"{r['msg']}: {r['error']}") for r in k6_warnings)
    shown: Counter[str] = Counter()
    counted: Counter[str] = Counter()
    lines_per_message: Counter[str] = Counter()
    for line in lines:
        match = COUNTED.match(line)
        if match:
            counted[message_key("warning", match.group(2))] += int(match.group(1))
            lines_per_message[message_key("warning", match.group(2))] += 1
        elif line.startswith("warning k6 warning: "):
            shown[message_key("warning", line.removeprefix("warning k6 warning: "))] += 1
    assert set(in_log) == set(shown)
    for key, total in in_log.items():
        assert shown[key] == min(FIRST_SHOWN, total)
        assert lines_per_message[key] <= 3 + 2  # about one per second of a 3 s run, and one at the end
        assert shown[key] + counted[key] == total, key  # counted, none lost
    assert len(lines) < 30 + 8 * len(in_log), lines[:80]  # the run log, not one line per failed request
