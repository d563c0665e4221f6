"""What `luna up` started, and the URLs it serves report files under.

`luna up` starts one process of its own (app/server): the Prefect server on
LUNA_PREFECT_PORT and a read-only HTTP server for the results folder on
LUNA_REPORTS_PORT, both on loopback. It records that process here, in
`<PREFECT_HOME>/luna-up.json`, so that `luna down` stops exactly that process (never
another server that runs under the same Prefect home) and so that the reporting stage
can publish links that open (`report_url`).

Links, in order of preference:
1. LUNA_REPORTS_URL set: the base URL the results folder (or the LUNA_REPORTS_BLOCK
   storage block) is served under, for teams (a shared server, a bucket's website).
2. A live `luna up` whose results folder holds the file: `http://127.0.0.1:<port>/<path>`.
3. Otherwise a `file://` URL, which opens on the machine that ran the test only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from pydantic import BaseModel, Field

STATE_FILE = "luna-up.json"


class UpState(BaseModel):
    """The process `luna up` started (written by app/server, read by `luna down` and reports)."""

    pid: int = Field(description="Process id of Luna's server process (a process-group leader).")
    prefect_port: int = Field(description="Port of the Prefect API and UI.")
    reports_port: int = Field(description="Port of the results-folder HTTP server.")
    out_dir: str = Field(description="The results folder it serves, absolute.")
    log: str = Field(description="Where the process writes its output.")

    @property
    def prefect_url(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}"

    @property
    def reports_url(self) -> str:
        return f"http://127.0.0.1:{self.reports_port}/"


def prefect_home() -> Path:
    """PREFECT_HOME as Prefect resolves it (its default is ~/.prefect)."""
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()


def state_path() -> Path:
    return prefect_home() / STATE_FILE


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_luna_server(pid: int) -> bool:
    """True when `pid` runs Luna's server process (its command line names app.server)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return pid_alive(pid)  # no /proc (macOS): trust the recorded pid while it lives
    return b"app.server" in cmdline


def read_state() -> UpState | None:
    """The recorded `luna up` process, or None when there is none or it has ended."""
    try:
        state = UpState.model_validate_json(state_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if is_luna_server(state.pid) else None


def write_state(state: UpState) -> None:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state.model_dump(), indent=2) + "\n", encoding="utf-8")


def report_url(path: Path, base_url: str | None = None, root: Path | None = None) -> str:
    """A URL that opens `path` (a file in a run folder); see the module docstring.

    `base_url` (LUNA_REPORTS_URL) is joined with the path relative to `root` (the results
    folder); a file outside `root` falls through to the next rule.
    """
    path = path.resolve()
    if base_url and root is not None and path.is_relative_to(root.resolve()):
        return base_url.rstrip("/") + "/" + quote(path.relative_to(root.resolve()).as_posix())
    state = read_state()
    if state is not None and path.is_relative_to(Path(state.out_dir)):
        return state.reports_url + quote(path.relative_to(Path(state.out_dir)).as_posix())
    return path.as_uri()
