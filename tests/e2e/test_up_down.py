"""`luna up` / `luna down` as a user runs them: the UI calls the API on LUNA_PREFECT_PORT,
the results folder is served over HTTP, a failure says why, and `luna down` stops only the
server `luna up` started."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from app.server.files import results_server
from luna.keys import artifact_key
from luna.results import RunResult
from tests.conftest import ROOT, Demo, free_port, write_catalog

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


@dataclass
class Up:
    env: dict[str, str]
    home: Path
    out: Path
    prefect_port: int
    reports_port: int
    pid: int

    def luna(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "luna"), *args], cwd=ROOT, env={**self.env, **extra}, capture_output=True, text=True, timeout=180
        )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    home, out = tmp_path_factory.mktemp("up-home"), tmp_path_factory.mktemp("up-out")
    prefect_port, reports_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "LUNA_", "PREFECT_"))}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "LUNA_PREFECT_PORT": str(prefect_port),
            "LUNA_REPORTS_PORT": str(reports_port),
            "LUNA_OUT_DIR": str(out),
        }
    )
    started = subprocess.run([str(BIN / "luna"), "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stdout + started.stderr
    pid = json.loads((home / "luna-up.json").read_text())["pid"]
    try:
        yield Up(env, home, out, prefect_port, reports_port, pid)
    finally:
        subprocess.run([str(BIN / "luna"), "down"], cwd=ROOT, env=env, capture_output=True, timeout=60)
        _kill_group(pid)


def test_the_ui_calls_the_api_on_luna_prefect_port(up: Up) -> None:
    settings = httpx.get(f"http://127.0.0.1:{up.prefect_port}/ui-settings", timeout=10).json()
    assert settings["api_url"] == f"http://127.0.0.1:{up.prefect_port}/api"
    assert httpx.get(f"{settings['api_url']}/health", timeout=10).status_code == 200


def test_the_results_folder_is_served_read_only_on_loopback(up: Up) -> None:
    run = up.out / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "report.html").write_text("<h1>FAIL</h1>", encoding="utf-8")
    (up.out / ".secret").write_text("x", encoding="utf-8")
    base = f"http://127.0.0.1:{up.reports_port}"
    got = httpx.get(f"{base}/runs/r1/report.html", timeout=10)
    assert got.status_code == 200 and got.text == "<h1>FAIL</h1>"
    assert got.headers["content-type"].startswith("text/html")
    assert httpx.get(f"{base}/runs/", timeout=10).status_code == 404  # no listings
    assert httpx.get(f"{base}/.secret", timeout=10).status_code == 404
    assert httpx.put(f"{base}/runs/r1/report.html", content=b"x", timeout=10).status_code == 501
    assert (run / "report.html").read_text(encoding="utf-8") == "<h1>FAIL</h1>"


def test_up_again_reports_the_running_server_or_says_why_not(up: Up) -> None:
    again = up.luna("up")
    assert again.returncode == 0 and f"pid {up.pid}" in again.stdout
    other = up.luna("up", LUNA_PREFECT_PORT=str(free_port()))
    assert other.returncode == 2
    lines = other.stderr.strip().splitlines()
    assert len(lines) == 1 and f"already runs a server on port {up.prefect_port}" in lines[0]
    assert "Traceback" not in other.stderr


def _artifact(up: Up, key: str) -> str:
    api = f"http://127.0.0.1:{up.prefect_port}/api"
    found = httpx.post(f"{api}/artifacts/filter", json={"artifacts": {"key": {"any_": [key]}}}, timeout=30).json()
    assert found, f"no artifact {key}"
    return str(max(found, key=lambda a: a["created"])["data"])


def _smoke(up: Up, demo: Demo, tmp: Path, service: str, **extra: str) -> RunResult:
    catalog = write_catalog(tmp / "e.json", [{"name": "Boom", "group": "g", "path": "/api/always500"}])
    data = json.loads(catalog.read_text())
    catalog.write_text(json.dumps({**data, "service": service}))
    done = up.luna("smoke", "--target", demo.url, "--config", str(catalog), "--smoke-duration", "2s", **extra)
    assert done.returncode == 1, done.stderr[-3000:]  # the endpoint always answers 500: FAIL
    assert "temporary" not in done.stderr  # it ran on `luna up`'s server
    return RunResult.read(Path(done.stdout.split("results: ")[1].split()[0]))


def test_the_report_link_in_a_real_artifact_opens_the_report(up: Up, demo: Demo, tmp_path: Path) -> None:
    result = _smoke(up, demo, tmp_path, "Up Links", LUNA_K6_DASHBOARD="true")  # k6's own report too
    markdown = _artifact(up, artifact_key("luna-report", "Up Links", "smoke"))
    url = re.search(r"HTML report: \[report\.html\]\((\S+)\)", markdown)
    assert url and url.group(1).startswith(f"http://127.0.0.1:{up.reports_port}/runs/{result.run_id}/")
    page = httpx.get(url.group(1), timeout=10)
    assert page.status_code == 200 and "FAIL" in page.text and "Boom" in page.text
    link = _artifact(up, artifact_key("luna-html", "Up Links", "smoke"))
    assert link.endswith(f"({url.group(1)})")  # the link artifact: [text](url)
    dashboard = re.search(r"k6 web dashboard: \[k6-report\.html\]\((\S+)\)", markdown)
    assert dashboard and httpx.get(dashboard.group(1), timeout=10).status_code == 200


def test_the_prefect_ui_shows_the_report_and_its_link_opens_it(up: Up, demo: Demo, tmp_path: Path) -> None:
    """In real Chromium at desktop and phone widths: the artifact page of Prefect's UI
    (served by `luna up`) shows the verdict, and its report.html link opens the report."""
    result = _smoke(up, demo, tmp_path, "Up UI")
    api = f"http://127.0.0.1:{up.prefect_port}/api"
    key = artifact_key("luna-report", "Up UI", "smoke")
    found = httpx.post(f"{api}/artifacts/filter", json={"artifacts": {"key": {"any_": [key]}}}, timeout=30).json()
    page_url = f"http://127.0.0.1:{up.prefect_port}/artifacts/artifact/{found[0]['id']}"
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed for this test"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            for width in (1280, 390):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(page_url, wait_until="load", timeout=60_000)
                page.get_by_text("1 of 1 endpoint missed an SLO", exact=False).first.wait_for(timeout=60_000)
                link = page.get_by_role("link", name="report.html", exact=True)
                href = link.get_attribute("href") or ""
                assert href == f"http://127.0.0.1:{up.reports_port}/runs/{result.run_id}/report.html"
                page.goto(href, wait_until="load")
                assert page.get_by_role("heading", name=re.compile(r"^FAIL")).is_visible()
                assert page.locator("section.verdict").get_by_text("Boom").first.is_visible()
                page.close()
        finally:
            browser.close()


def test_a_storage_block_makes_the_link_work_without_the_run_folder(up: Up, demo: Demo, tmp_path: Path) -> None:
    """A team's setup: report files written to a LocalFileSystem block whose folder a web
    server serves (here Luna's own file server); the run folder can be gone."""
    shared = tmp_path / "shared"
    api = f"http://127.0.0.1:{up.prefect_port}/api"
    save = (
        "from prefect.filesystems import LocalFileSystem as L; import sys; L(basepath=sys.argv[1]).save('luna-reports')"
    )
    made = subprocess.run(
        [sys.executable, "-c", save, str(shared)],
        env={**up.env, "PREFECT_API_URL": api},
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    port = free_port()
    web = results_server(shared, port)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{port}/"
        result = _smoke(
            up, demo, tmp_path, "Up Block", LUNA_REPORTS_BLOCK="local-file-system/luna-reports", LUNA_REPORTS_URL=base
        )
        shutil.rmtree(result.run_dir)
        link = _artifact(up, artifact_key("luna-html", "Up Block", "smoke"))
        url = link.rsplit("(", 1)[1].rstrip(")")
        assert url == f"{base}runs/{result.run_id}/report.html"
        page = httpx.get(url, timeout=10)  # from the block's folder: the run folder is gone
        assert page.status_code == 200 and "FAIL" in page.text and "Boom" in page.text
    finally:
        web.shutdown()


def test_down_stops_only_the_server_luna_up_started(up: Up) -> None:
    """A Prefect server that something else started under the same Prefect home keeps
    running through `luna down`; `luna up` on its port says the port is taken, and by whom."""
    foreign_port = free_port()
    log = (up.home / "foreign.log").open("w")
    foreign = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(foreign_port)],
        env=up.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        health = f"http://127.0.0.1:{foreign_port}/api/health"
        for _ in range(240):  # bounded: up to about 120 s on a loaded machine
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(health, timeout=1).status_code == 200:
                    break
            time.sleep(0.5)
        taken = up.luna("down")  # first make room: one `luna up` per Prefect home
        assert taken.returncode == 0 and f"stopped Luna's server (pid {up.pid}" in taken.stdout
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{up.prefect_port}/api/health", timeout=2)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{up.reports_port}/", timeout=2)
        assert foreign.poll() is None and httpx.get(health, timeout=10).status_code == 200
        assert not (up.home / "luna-up.json").exists()

        busy = up.luna("up", LUNA_PREFECT_PORT=str(foreign_port))
        assert busy.returncode == 2
        assert f"port {foreign_port} for the Prefect server is in use by a Prefect server" in busy.stderr
        assert len(busy.stderr.strip().splitlines()) == 1
        again = up.luna("down")
        assert again.returncode == 0 and "no server started by `luna up`" in again.stdout
        assert foreign.poll() is None
    finally:
        _kill_group(foreign.pid)
        foreign.wait(timeout=30)
