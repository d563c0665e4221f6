"""Discovery against live services (issue 12 items 3-6 and 10, issue 13 item 9): Prefect's
own server (its OpenAPI 3.1 spec, then a real k6 smoke of its safe read and filter
operations with 0 % errors), httpbin's Swagger served by flasgger, a GraphQL server that
answers at every path, a site with pages but no API, and servers that drip one byte at a
time. Everything on 127.0.0.1; every server is stopped after its tests."""

from __future__ import annotations

import json
import os
import signal
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
from graphql import build_schema, graphql_sync

from luna.catalog import load_catalog
from luna.settings import load_settings
from tasks.discovery.model import LoaderError
from tasks.discovery.probe import Prober, from_url
from tasks.discovery.schema_sample import FIXED_UUID
from tasks.discovery.sources import fetch_url, load_document, load_source
from tasks.discovery.tasks import write_endpoints_file
from tasks.generation.suites import GenerateParams, generate_suite
from tests.conftest import ROOT, Runner, free_port

pytestmark = pytest.mark.integration


def wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, f"the server behind {url} exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"{url} did not answer within {seconds:.0f} s"
        time.sleep(0.3)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server we started in its own session, and its children (uvicorn, workers)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prefect's own API server, with its own PREFECT_HOME (and so its own database)."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    prefect = str(Path(sys.executable).with_name("prefect"))
    proc = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/api/health", proc)
        for spec in ("/api/openapi.json", "/openapi.json"):  # built on first request: seconds on a busy machine
            httpx.get(url + spec, timeout=60)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def httpbin() -> Iterator[str]:
    """httpbin (flasgger serves its Swagger 2.0 at /spec.json), under gunicorn when installed."""
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if gunicorn.exists():
        args = [str(gunicorn), "-b", f"127.0.0.1:{port}", "-w", "1", "httpbin:app"]
    else:
        args = [sys.executable, "-m", "httpbin.core", "--port", str(port)]
    proc = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/get", proc, 30)
        yield url
    finally:
        stop(proc)


# --- Prefect's own server -------------------------------------------------------------------


def real_parameters(endpoint: dict[str, Any]) -> bool:
    """A safe read or filter whose request needs no invented identifier."""
    path = endpoint["path"]
    safe = endpoint["method"] == "GET" or path.split("?")[0].endswith(("/filter", "/count"))
    return safe and not endpoint.get("destructive") and "sample" not in path and FIXED_UUID not in path


def test_prefect_server_spec_then_a_k6_smoke_with_no_errors(
    prefect_server: str, tmp_path: Path, load_run: Runner
) -> None:
    """Today every operation carries `x-prefect-api-version: sample` and 88 of 90 safe
    endpoints answer 400; POST /flows/bulk_delete and PUT /admin/storage are loaded."""
    found = load_source(prefect_server + "/")
    assert found.kind == "url" and found.api_found
    assert f"openapi at {prefect_server}/api/openapi.json" in found.warnings[0]
    assert len(found.endpoints) >= 180
    # Prefect also serves its spec at /openapi.json, without the /api prefix its paths need
    same = f"{prefect_server}/openapi.json describes the same API as {prefect_server}/api/openapi.json: left out"
    assert any(w.startswith(same) for w in found.warnings), [w for w in found.warnings if "same API" in w]
    assert not [e.name for e in found.endpoints if any(h.lower() == "x-prefect-api-version" for h in e.headers)]
    marked = {(e.method, e.path) for e in found.endpoints if e.destructive}
    assert {
        ("POST", "/api/flows/bulk_delete"),
        ("POST", "/api/flow_runs/bulk_delete"),
        ("POST", "/api/flow_runs/bulk_set_state"),
        ("PUT", "/api/admin/storage"),
    } <= marked
    assert ("POST", "/api/flows/filter") not in marked and ("GET", "/api/admin/settings") not in marked
    out = tmp_path / "prefect.json"
    catalog = write_endpoints_file([found], out, service="prefect", include_destructive=False)
    assert catalog.target == prefect_server  # the URL discovered, recorded
    data = json.loads(out.read_text(encoding="utf-8"))  # what was written, as written
    assert data["target"] == prefect_server and len(data["endpoints"]) == len(catalog.endpoints)
    endpoints = [e for e in data["endpoints"] if real_parameters(e)]
    assert len(endpoints) >= 30
    filters = {e["path"] for e in endpoints if e["method"] == "POST"}
    assert {"/api/flows/filter", "/api/flow_runs/filter", "/api/logs/filter"} <= filters
    smoke = tmp_path / "smoke.json"
    smoke.write_text(json.dumps({**data, "slos": {"p95_ms": 5000, "error_rate": 0.0}, "endpoints": endpoints}))
    result = load_run(prefect_server, smoke, "smoke", smoke_duration="4s", smoke_vus=2)
    assert result.total is not None and result.total.requests >= len(endpoints) // 2
    assert result.total.error_rate == 0, [(e.name, e.error_rate) for e in result.endpoints if e.error_rate]
    assert all(e.check_pass_rate in (None, 1.0) for e in result.endpoints)


# --- httpbin ----------------------------------------------------------------------------------


def test_httpbin_optional_headers_left_out_and_its_host_never_the_target(
    httpbin: str, tmp_path: Path, clean_env: Path
) -> None:
    """An empty If-Modified-Since turned /cache into a 304; `gen-tests --spec` aimed the
    suite at https://httpbin.org, the spec's host."""
    found = load_source(f"{httpbin}/spec.json")
    cache = next(e for e in found.endpoints if e.path == "/cache")
    assert cache.headers == {}
    assert httpx.get(httpbin + cache.path, headers=cache.headers, timeout=5).status_code == 200
    assert found.base_url == "https://httpbin.org"  # declared; information only
    assert any("declares the server https://httpbin.org: information only" in w for w in found.warnings)
    destructive = [e for e in found.endpoints if e.destructive]
    assert "/delete" in {e.path for e in destructive} and {e.method for e in destructive} == {"DELETE"}
    out = tmp_path / "httpbin.json"
    write_endpoints_file([found], out, service="httpbin", include_destructive=False)
    catalog = load_catalog(out)
    assert catalog.target == httpbin
    assert catalog.discovery is not None and catalog.discovery.declared_servers == ["https://httpbin.org"]
    made = generate_suite(
        GenerateParams(specs=[f"{httpbin}/spec.json"], base_url=httpbin, kinds=["api"], out_dir=str(tmp_path / "s")),
        load_settings(),
    )
    conftest = (made.suite_dir / "conftest.py").read_text()
    assert f'DEFAULT_BASE_URL = "{httpbin}"' in conftest  # the spec's title names the service "httpbin.org":
    assert "https://httpbin.org" not in conftest and "http://httpbin.org" not in conftest  # its host is no target
    from_file = generate_suite(
        GenerateParams(config=str(out), kinds=["api"], out_dir=str(tmp_path / "f")), load_settings()
    )
    assert from_file.manifest is not None and from_file.manifest.base_url == httpbin


# --- small local servers for the probing rules -------------------------------------------------

SCHEMA = build_schema(
    """
    type Query { hello: String, answer: Int, when(day: String!): String }
    type Mutation { setGreeting(text: String!): String, deleteGreeting: Boolean }
    """
)


class _Site(BaseHTTPRequestHandler):
    graphql_everywhere = False

    def log_message(self, *args: Any) -> None:
        pass

    def send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/":
            self.send(
                200, b'<html><body><a href="/about">about</a> <a href="/posts">posts</a></body></html>', "text/html"
            )
        elif self.path == "/about":
            self.send(200, b"<html><body>about us</body></html>", "text/html")
        elif self.path == "/posts":
            self.send(200, b'[{"id": 1}]', "application/json")
        else:
            self.send(404, b"{}", "application/json")

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.graphql_everywhere:
            self.send(404, b"{}", "application/json")
            return
        request = json.loads(data)
        result = graphql_sync(SCHEMA, request["query"], operation_name=request.get("operationName"))
        self.send(200, json.dumps({"data": result.data}).encode(), "application/json")


class _GraphQLEverywhere(_Site):
    graphql_everywhere = True


def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site() -> Iterator[str]:
    yield from serve(_Site)


@pytest.fixture
def graphql_everywhere() -> Iterator[str]:
    yield from serve(_GraphQLEverywhere)


def test_one_graphql_schema_at_many_paths_is_tested_once_at_root(graphql_everywhere: str) -> None:
    """One schema at five probe paths gave 121 endpoints instead of 24, and `/` was never probed."""
    found = load_source(graphql_everywhere + "/")
    graphql = [e for e in found.endpoints if e.type == "graphql"]
    assert sorted(e.name for e in graphql) == [
        "mutation_deleteGreeting",
        "mutation_setGreeting",
        "query_answer",
        "query_hello",
        "query_when",
    ]
    assert {e.path for e in graphql} == {"/"}
    assert next(e for e in graphql if e.name == "mutation_deleteGreeting").destructive
    assert (
        "the same GraphQL schema answers at / and /graphql, /api/graphql, /graphql/v1, /gql, /query: tested once, at /"
        in found.warnings
    )


def test_a_site_without_an_api_says_so(site: str, tmp_path: Path) -> None:
    """When probing finds only pages, discovery says no API is exercised (not a silent pass)."""
    found = load_source(site + "/")
    assert found.api_found is False
    assert found.warnings[0].startswith(f"no API found at {site}/: no spec or GraphQL endpoint answered")
    assert sorted(e.path for e in found.endpoints) == ["/", "/about"]
    catalog = write_endpoints_file([found], tmp_path / "e.json", service="site", include_destructive=False)
    assert catalog.discovery is not None and catalog.discovery.api_found is False and catalog.target == site


# --- servers that drip ------------------------------------------------------------------------


class _Drip(BaseHTTPRequestHandler):
    """Answers one byte every 0.2 s, for at most 60 s: in the headers (path /headers) or in
    an endless JSON body (any other path but `/`, a page). Counts what it sent."""

    sent: dict[str, int] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def drip(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            return False
        self.sent[self.path] = self.sent.get(self.path, 0) + len(data)
        time.sleep(0.2)
        return True

    def do_GET(self) -> None:
        end = time.monotonic() + 60
        if self.path == "/":  # the landing page answers at once: the probe goes on
            body = b"<html><body>drip</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path.startswith("/headers"):
            if not self.drip(b"HTTP/1.1 200 OK\r\n"):
                return
            while time.monotonic() < end and self.drip(b"X"):
                pass
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        if not self.drip(b'{"openapi": "3.0.0", "x": "'):
            return
        while time.monotonic() < end and self.drip(b"y"):
            pass

    do_POST = do_GET


@pytest.fixture
def drip() -> Iterator[str]:
    _Drip.sent = {}
    yield from serve(_Drip)


@pytest.mark.parametrize("path", ["/spec.json", "/headers/spec.json"])
def test_a_dripping_server_cannot_keep_a_fetch_alive(drip: str, path: str) -> None:
    """Each read got a byte within the 5 s read timeout, so the fetch never ended."""
    with pytest.raises(LoaderError) as info:
        fetch_url(drip + path, deadline=1.5)
    assert info.value.loader_kind == "reference" and "did not answer in time" in info.value.message
    assert _Drip.sent[path] < 40  # about 1.5 s of drops, not 60 s


def test_a_dripping_server_cannot_keep_a_probe_alive(drip: str) -> None:
    """The whole probe has a wall-clock budget, and each request its own deadline: the
    landing page answers, every spec location drips."""
    prober = Prober(drip, budget=3, request_deadline=1)
    with pytest.raises(LoaderError) as info:
        from_url(drip + "/", load_document=load_document, prober=prober)
    assert "the probe's 3 s time budget ran out" in info.value.message
    assert 2 <= prober.requests <= 5  # the time budget ended the probe, long before MAX_REQUESTS (80)
    assert "deadline" in prober.last_error
