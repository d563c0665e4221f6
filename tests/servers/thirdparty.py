"""Real third-party services for the conformance suite, each on a free loopback port, each
stopped after (its whole process group), with the request log each one writes itself: the
independent count that Luna's figures are checked against.

| service | from | its own request log |
|---|---|---|
| httpbin (gunicorn) | PyPI, dev group | `--access-logfile`, format `ACCESS_FORMAT` |
| json-server 0.17.4 | npm devDependency | morgan's `dev` lines on stdout |
| Prefect server | PyPI (Luna depends on it) | uvicorn's access lines (PREFECT_SERVER_LOGGING_LEVEL=INFO) |
| Prism 5.16 | npm devDependency | `[HTTP SERVER] <method> <path> ... Request received`, `Violation:` lines |
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT, free_port

BIN = Path(sys.executable).parent
NODE_BIN = ROOT / "node_modules" / ".bin"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# gunicorn: method, path, ?query, status, referer ('-' on a first request; Go sets it on a hop), user agent
ACCESS_FORMAT = "%(m)s %(U)s ?%(q)s %(s)s %(f)s %(a)s"
START_TIMEOUT_S = 120.0


@dataclass
class Service:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return ANSI.sub("", self.log.read_text(encoding="utf-8", errors="replace"))

    def mark(self) -> int:
        """The log's current length: `requests(since=mark)` counts what came after."""
        return len(self.text())


@contextmanager
def running(
    name: str, argv: list[str], probe: str, log: Path, port: int, env: dict[str, str] | None = None
) -> Iterator[Service]:
    """Start `argv`, wait (bounded) until GET `probe` answers below 500, stop it after."""
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = Service(name, url, proc, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(url + probe, timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start: {service.text()[-2000:]}")
            time.sleep(0.3)
        yield service
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def httpbin(tmp: Path) -> Any:
    port = free_port()
    argv = [
        str(BIN / "gunicorn"),
        "--pythonpath",
        str(ROOT / "tests" / "servers"),
        "-b",
        f"127.0.0.1:{port}",
        "-k",
        "gthread",
        "--workers",
        "2",
        "--threads",
        "8",
    ]
    argv += ["--access-logfile", str(tmp / "httpbin-access.log"), "--access-logformat", ACCESS_FORMAT]
    return running("httpbin", [*argv, "httpbin_wsgi:app"], "/get", tmp / "httpbin.log", port)


def json_server(tmp: Path, db: dict[str, Any]) -> Any:
    port = free_port()
    (tmp / "db.json").write_text(json.dumps(db), encoding="utf-8")
    argv = [str(NODE_BIN / "json-server"), "--host", "127.0.0.1", "--port", str(port), str(tmp / "db.json")]
    return running("json-server", argv, "/", tmp / "json-server.log", port)  # "/" is not in its log


def prefect_server(tmp: Path, access_log: bool = False) -> Any:
    """`prefect server start` with its own PREFECT_HOME; access_log turns uvicorn's lines on."""
    port, home = free_port(), tmp / f"prefect-home-{os.urandom(3).hex()}"
    home.mkdir(parents=True)
    env = {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_API_URL": ""}
    if access_log:
        env["PREFECT_SERVER_LOGGING_LEVEL"] = "INFO"
    argv = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    return running("prefect", argv, "/api/health", home / "server.log", port, env)


PROBE = "/__luna_probe__"  # the path the harness polls until Prism answers


def prism(tmp: Path, spec: Path) -> Any:
    port = free_port()
    argv = [str(NODE_BIN / "prism"), "mock", str(spec), "-h", "127.0.0.1", "-p", str(port)]
    return running("prism", argv, PROBE, tmp / "prism.log", port)


# --- each server's own count of what it was sent: Counter of "METHOD /path?query" ------------


def gunicorn_requests(log: Path, agent: str = "", hops: bool = False) -> Counter[str]:
    """Requests in a gunicorn access log in ACCESS_FORMAT from a user agent containing `agent`;
    without hops, only first requests (no Referer): the logical requests a client sent, not the
    redirects it followed."""
    seen: Counter[str] = Counter()
    for line in log.read_text(encoding="utf-8").splitlines():
        method, path, query, _status, referer, user_agent = line.split(" ", 5)
        if agent in user_agent and (hops or referer == "-"):
            seen[f"{method} {path}{query if query != '?' else ''}"] += 1
    return seen


def morgan_requests(text: str) -> Counter[str]:
    """json-server's `GET /posts?x=1 200 3.1 ms - 12` lines."""
    return Counter(
        f"{m[1]} {m[2]}" for m in re.finditer(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+) \d{3} ", text, re.M)
    )


def uvicorn_requests(text: str) -> Counter[str]:
    """uvicorn's `INFO:  127.0.0.1:5 - "POST /api/flows/filter HTTP/1.1" 200 OK` lines, with status."""
    return Counter(f"{m[1]} {m[2]} {m[3]}" for m in re.finditer(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})', text))


def prism_requests(text: str) -> Counter[str]:
    """Prism's `[HTTP SERVER] get /books Request received` lines (path without the query)."""
    return Counter(
        f"{m[1].upper()} {m[2]}" for m in re.finditer(r"\[HTTP SERVER\] (\w+) (\S+) .*Request received", text)
    )


def prism_refusals(text: str) -> list[str]:
    """What Prism's request validation held against a request: `Violation: request...` lines,
    requests that did not pass the rules (a wrong content type, a missing body) or ended in an
    error, and any 4xx it answered. (The same verdicts Prism puts in its `sl-violations` header.)
    The harness's own readiness probe (PROBE, no such path) is not Luna's: on a loaded machine
    its line can land after the test's log mark."""
    text = "\n".join(line for line in text.splitlines() if f" {PROBE} " not in line)
    patterns = [
        r"Violation: request\..*$",
        r"Request did not pass the validation rules.*$",
        r"Request terminated with error.*$",
        r'Responding with "4\d\d".*$',
    ]
    return [m[0] for p in patterns for m in re.finditer(p, text, re.M)]


# --- Luna, as a user runs it ----------------------------------------------------------------


def luna(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "LUNA_", "K6_", "SMOKE_"))}
    clean.pop("BASE_URL", None)
    return subprocess.run(
        [str(BIN / "luna"), *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=timeout
    )


def only_run(out: Path) -> Path:
    (run_dir,) = [p for p in (out / "runs").iterdir() if p.is_dir()]
    return run_dir


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def newman(collection: Path, environment: Path, report: Path) -> Any:
    """Run a collection with newman (npm); its JSON reporter's report."""
    argv = [str(NODE_BIN / "newman"), "run", str(collection), "-e", str(environment), "--reporters", "json"]
    done = subprocess.run(
        [*argv, "--reporter-json-export", str(report), "--timeout-request", "10000"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert report.is_file(), done.stdout + done.stderr
    return read_json(report)


def read_json_url(url: str) -> Any:
    return httpx.get(url, timeout=30).raise_for_status().json()


def record_har(url: str, har: Path) -> None:
    """Browse json-server in Debian's Chromium through Playwright, as a web client uses it:
    reads, writes, a 404 and a DELETE. Only loopback requests leave the browser (the landing
    page links a web font)."""
    import shutil

    from playwright.sync_api import Route, sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (scripts/setup.sh installs it)"

    def loopback_only(route: Route) -> None:
        if route.request.url.startswith(url):
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(record_har_path=str(har), record_har_content="embed")
        context.route("**/*", loopback_only)
        page = context.new_page()
        page.goto(url + "/")
        page.evaluate(
            """async () => {
              const json = {'Content-Type': 'application/json'};
              for (const id of [1, 2]) await fetch('/posts/' + id);
              await fetch('/comments?postId=1');
              await fetch('/profile');
              await fetch('/posts', {method: 'POST', headers: json, body: JSON.stringify({title: 'har', author: 'pw'})});
              await fetch('/profile', {method: 'PATCH', headers: json, body: JSON.stringify({name: 'pw'})});
              await fetch('/authors');                        // 404 in the recording
              await fetch('/comments/2', {method: 'DELETE'});  // a write that load runs leave out
            }"""
        )
        context.close()
        browser.close()
