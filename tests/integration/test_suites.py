"""Generated suites run for real: generated from the demo API (its live URL, and the
project's endpoints file plus the spec), then the pytest API suite, the Playwright UI
suite in Chromium, the k6 script with the k6 binary and the Lighthouse config with npm
Lighthouse run against it; then against a broken service and a stopped one, where every
failure must be reported as a row with the right message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from luna.settings import load_settings
from tasks.generation.results import SuiteRun, parse_junit
from tasks.generation.runner import run_suite_dir
from tasks.generation.suites import GenerateParams, generate_suite
from tasks.generation.write import ruff_binary
from tests.conftest import ROOT, Demo, free_port, start_demo

pytestmark = pytest.mark.integration

BROKEN_PAGE = b"""<!doctype html><html><head></head><body>
<div>no landmarks here</div><img src="/missing.png" alt="gone">
<script>console.error("boom from the page")</script></body></html>"""


class Broken(BaseHTTPRequestHandler):
    """A service gone wrong: a bad home page, a 500 about page, JSON of the wrong shape."""

    def do_GET(self) -> None:
        if self.path == "/":
            status, kind, body = 200, "text/html", BROKEN_PAGE
        elif self.path.startswith("/api/") or self.path == "/graphql":
            status, kind, body = 200, "application/json", b'{"data": "not a list", "count": "x"}'
        else:
            status, kind, body = 500, "text/html", b"<h1>500</h1>"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def demo0() -> Iterator[Demo]:
    """A demo API of our own whose /api/flaky never fails (deterministic outcomes)."""
    server = start_demo("--error-rate", "0")
    yield server
    server.proc.terminate()
    server.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def broken() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("suites")


@pytest.fixture(scope="module")
def from_url(demo0: Demo, suites: Path) -> Path:
    """Everything generated from the demo's live URL (spec, pages, GraphQL)."""
    made = generate_suite(GenerateParams(url=demo0.url, out_dir=str(suites)), load_settings())
    assert made.manifest is not None and made.manifest.kinds == ["api", "ui", "k6", "lighthouse"]
    return made.suite_dir


@pytest.fixture(scope="module")
def curated(demo0: Demo, suites: Path) -> Path:
    """The project's endpoints file for the demo, with the spec's schemas and one page."""
    params = GenerateParams(
        config=str(ROOT / "k6" / "config" / "endpoints.json"),
        specs=[f"{demo0.url}/openapi.json"],
        service="demo curated",
        base_url=demo0.url,
        pages=["/"],
        out_dir=str(suites),
    )
    made = generate_suite(params, load_settings())
    return made.suite_dir


def run(suite: Path, kinds: list[Any], tmp_path: Path, base_url: str | None = None, **settings: Any) -> SuiteRun:
    return run_suite_dir(
        suite,
        kinds,
        settings=load_settings(**settings),
        out_dir=tmp_path / "-".join(kinds),
        base_url=base_url,
        k6_duration="2s",
        lighthouse_presets=("desktop",),
    )


def outcomes(result: SuiteRun) -> dict[str, tuple[str, str]]:
    return {c.test: (c.outcome, c.message) for c in result.cases}


def test_api_suite_from_the_live_url(from_url: Path, tmp_path: Path, clean_env: Path) -> None:
    with_auth = run(from_url, ["api"], tmp_path, auth_token="demo-token")
    failed = {t.split("::")[-1]: m for t, (o, m) in outcomes(with_auth).items() if o == "failed"}
    # What the demo really does wrong for a generated request: /api/always500 always
    # answers 500, the form-encoded token endpoint rejects a JSON body, `boom` always errors.
    assert set(failed) == {"test_get_always500", "test_issue_token", "test_query_boom"}
    assert failed["test_get_always500"] == "GET /api/always500 -> HTTP 500, expected 200"
    assert "GraphQL errors" in failed["test_query_boom"] and "boom" in failed["test_query_boom"]
    assert with_auth.count("passed") == len(with_auth.cases) - 3 >= 10
    assert {c.kind for c in with_auth.cases} == {"api"}

    # Auth comes from Luna's settings: without the token the secure endpoint fails.
    without = run(from_url, ["api"], tmp_path / "noauth")
    assert outcomes(without)["test_api_auth::test_get_secure"] == (
        "failed",
        "GET /api/secure -> HTTP 401, expected 200",
    )


def test_curated_suite_runs_green_in_every_kind(
    curated: Path, from_url: Path, demo0: Demo, tmp_path: Path, clean_env: Path
) -> None:
    ruff = ruff_binary()
    assert ruff, "ruff is a dev dependency"
    for suite in (curated, from_url):
        for args in (["check", "."], ["format", "--check", "."]):
            done = subprocess.run([ruff, *args], cwd=suite, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stdout + done.stderr
    schemas = (curated / "api" / "schemas.json").read_text()
    for name in ("ListUsers", "GetUser", "CreateUser", "Search", "Slow"):
        assert f'"{name}"' in schemas  # matched to the spec by method and path
    result = run(curated, ["api", "ui", "k6"], tmp_path)
    assert result.passed, [c for c in result.cases if c.outcome != "passed"]
    kinds = {k: sum(1 for c in result.cases if c.kind == k) for k in ("api", "ui", "k6")}
    assert kinds["api"] == 6 and kinds["ui"] == 5 and kinds["k6"] > 10
    assert any(c.test == "threshold http_req_duration{name:Slow}: p(95)<250" for c in result.cases)
    junit = parse_junit(Path(result.files["junit"]), "api")  # every part in one file, for CI
    assert len(junit) == len(result.cases) and all(r.outcome == "passed" for r in junit)


def test_lighthouse_config_runs_and_budgets_hold(curated: Path, tmp_path: Path, clean_env: Path) -> None:
    """The suite's budgets are `luna lighthouse`'s (one model): the page's SLO-derived ones
    plus the shared defaults, accessibility included; INP is not measured in a navigation
    audit, and is reported as skipped, not passed."""
    result = run(curated, ["lighthouse"], tmp_path)
    rows = outcomes(result)
    assert set(rows) == {
        "page / [desktop]: server_response_ms <= 500",
        "page / [desktop]: lcp_ms <= 1200",
        "page / [desktop]: performance >= 85",
        "page / [desktop]: accessibility >= 90",
        "page / [desktop]: best_practices >= 90",
        "page / [desktop]: seo >= 90",
        "page / [desktop]: cls <= 0.1",
        "page / [desktop]: tbt_ms <= 200",
        "page / [desktop]: inp_ms <= 200",
    }
    assert rows.pop("page / [desktop]: inp_ms <= 200")[0] == "skipped"
    assert all(outcome == "passed" for outcome, _ in rows.values()), rows


def test_a_broken_service_fails_the_right_checks(
    from_url: Path, curated: Path, broken: str, tmp_path: Path, clean_env: Path
) -> None:
    ui = outcomes(run(from_url, ["ui"], tmp_path, base_url=broken))
    home = {t.split("::")[-1]: v for t, v in ui.items() if "[chromium-indexPage]" in t}
    about = {t.split("::")[-1]: v for t, v in ui.items() if "[chromium-aboutPage]" in t}
    assert home["test_page_loads[chromium-indexPage]"][0] == "passed"
    assert home["test_no_console_errors[chromium-indexPage]"][0] == "failed"
    assert "boom from the page" in home["test_no_console_errors[chromium-indexPage]"][1]
    assert home["test_has_title[chromium-indexPage]"] == ("failed", f"{broken}/: no <title>")
    assert home["test_has_landmarks[chromium-indexPage]"] == ("failed", f"{broken}/: no main, nav, header or h1")
    assert home["test_no_broken_images[chromium-indexPage]"] == (
        "failed",
        f"{broken}/: broken images: {broken}/missing.png",
    )
    assert about["test_page_loads[chromium-aboutPage]"] == ("failed", f"{broken}/about: HTTP 500")
    assert {v[0] for k, v in about.items() if k != "test_page_loads[chromium-aboutPage]"} == {"skipped"}

    api = outcomes(run(curated, ["api"], tmp_path, base_url=broken))
    assert api["test_api_users::test_list_users"][0] == "failed"
    assert (
        "does not match the schema at /data: 'not a list' is not of type 'array'"
        in (api["test_api_users::test_list_users"][1])
    )


def test_a_stopped_service_fails_every_kind(curated: Path, tmp_path: Path, clean_env: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = run(curated, ["api", "ui", "k6"], tmp_path, base_url=dead)
    api = [c for c in result.cases if c.kind == "api"]
    assert len(api) == 6 and all(c.outcome == "failed" and "ConnectError" in c.message for c in api)
    ui = {c.test.split("::")[-1]: c for c in result.cases if c.kind == "ui"}
    assert ui["test_page_loads[chromium-page /]"].outcome == "failed"
    assert "ERR_CONNECTION_REFUSED" in ui["test_page_loads[chromium-page /]"].message
    k6 = outcomes(SuiteRun.model_validate(result.model_dump()))
    assert k6["threshold http_req_failed: rate<0.05"][0] == "failed"
    assert k6["threshold http_req_failed: rate<0.05"][1] == "crossed (rate 1.000)"
    assert not result.passed and "FAILED" in result.headline()

    lighthouse = run(curated, ["lighthouse"], tmp_path / "lh", base_url=dead)
    assert [(c.test, c.outcome) for c in lighthouse.cases] == [("page / [desktop]: audit", "failed")]


def test_output_is_masked_and_a_silent_hang_is_stopped(tmp_path: Path) -> None:
    from luna.masking import Masker
    from tasks.generation.runner import SuiteRunError, run_process

    lines: list[str] = []
    code, tail = run_process(
        [sys.executable, "-c", "print('token s3cr3t-value here'); raise SystemExit(3)"],
        env=dict(os.environ),
        cwd=tmp_path,
        timeout_s=30,
        on_line=lines.append,
        secrets=Masker(["s3cr3t-value"]),
    )
    assert code == 3 and lines == tail == ["token *** here"]
    started = time.monotonic()
    with pytest.raises(SuiteRunError, match="ran longer than 1 s"):
        run_process(
            [sys.executable, "-c", "import time; time.sleep(60)"],
            env=dict(os.environ),
            cwd=tmp_path,
            timeout_s=1,
            on_line=lines.append,
            secrets=Masker([]),
        )
    assert time.monotonic() - started < 10


def test_data_rows_reach_the_api_suite_and_the_k6_script(
    demo0: Demo, suites: Path, tmp_path: Path, clean_env: Path
) -> None:
    """{{data.*}} placeholders: the data file is copied into the suite; the API test uses
    its first row, the k6 script cycles through the rows (quoted CSV fields included)."""
    (tmp_path / "rows.csv").write_text('name,email\n"Rowe, Quoted",q@example.com\nRowe Plain,p@example.com\n')
    (tmp_path / "endpoints.json").write_text(
        json.dumps(
            {
                "service": "rows",
                "endpoints": [
                    {
                        "name": "CreateFromRow",
                        "group": "users",
                        "method": "POST",
                        "path": "/api/users",
                        "data_file": "rows.csv",
                        "body": {"name": "{{data.name}}", "email": "{{data.email}}"},
                        "checks": {"status": 201, "body_contains": "Rowe, Quoted"},
                    }
                ],
            }
        )
    )
    params = GenerateParams(config=str(tmp_path / "endpoints.json"), base_url=demo0.url, out_dir=str(suites))
    made = generate_suite(params, load_settings())
    assert (made.suite_dir / "data" / "rows.csv").read_text().startswith("name,email")
    result = run(made.suite_dir, ["api", "k6"], tmp_path)
    rows = outcomes(result)
    assert rows["test_api_users::test_create_from_row"] == ("passed", "")
    # k6 sends row 1, row 2, row 1, ...: the first row's check passes only every other time.
    outcome, message = rows["check CreateFromRow: body contains Rowe, Quoted"]
    failed, total = (int(n) for n in message.split(" failed")[0].split(" of "))
    assert outcome == "failed" and 0 < failed < total
    for name in ("Rowe, Quoted", "Rowe Plain"):
        found = httpx.get(f"{demo0.url}/api/search", params={"q": name}, timeout=5).json()["data"]
        assert found, f"no user {name!r} was created"
