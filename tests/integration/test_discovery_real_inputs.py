"""Discovery on documents made by real third-party tools, served by real local services:
httpbin's Swagger (flasgger), a Postman collection from the npm openapi-to-postmanv2
converter, a HAR recorded by Chromium through Playwright, a spyne SOAP service's WSDL,
the demo API's GraphQL endpoint, and live-URL probing that never leaves the origin."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from luna.catalog import parse_catalog
from tasks.discovery.merge import merge
from tasks.discovery.model import Discovery, LoaderError
from tasks.discovery.sources import load_source
from tests.conftest import ROOT, Demo, Runner, free_port

pytestmark = pytest.mark.integration


def _serve(args: list[str], probe: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, *args, "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + probe, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, f"{args} did not start"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def httpbin() -> Iterator[str]:
    yield from _serve(["-m", "httpbin.core"], "/get")


@pytest.fixture(scope="module")
def soap() -> Iterator[str]:
    yield from _serve(["-m", "tests.servers.soap_service"], "/?wsdl")


def test_httpbin_swagger_served_by_flasgger(httpbin: str) -> None:
    found = load_source(f"{httpbin}/spec.json")
    assert found.kind == "swagger"  # flasgger serves Swagger 2.0
    ops = {(e.method, e.path.split("?")[0]) for e in found.endpoints}
    assert len(found.endpoints) >= 50
    assert {("GET", "/get"), ("POST", "/post"), ("GET", "/status/200"), ("DELETE", "/delete")} <= ops
    assert next(e for e in found.endpoints if e.method == "DELETE").destructive
    data = merge([found], service="httpbin")
    parse_catalog(data, source="httpbin")
    # the discovered requests are real: the simple verbs answer as declared
    for ep in found.endpoints:
        if ep.path in ("/get", "/post", "/put", "/patch", "/headers", "/uuid"):
            response = httpx.request(ep.method, httpbin + ep.path, json=ep.body, timeout=5)
            assert response.status_code == ep.checks.get("status", 200), ep.name


def test_httpbin_found_by_probing_its_base_url(httpbin: str) -> None:
    found = load_source(httpbin + "/")
    assert found.kind == "url"
    assert "swagger" in found.warnings[0] and f"{httpbin}/spec.json" in found.warnings[0]
    assert any(e.path == "/get" for e in found.endpoints)


def test_postman_collection_from_openapi_to_postmanv2(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    converter = ROOT / "node_modules" / ".bin" / "openapi2postmanv2"
    assert converter.exists(), "npm ci installs openapi-to-postmanv2 (devDependencies)"
    spec = tmp_path / "demo-openapi.json"
    spec.write_bytes(httpx.get(f"{demo.url}/openapi.json").content)
    collection = tmp_path / "demo.postman_collection.json"
    done = subprocess.run(
        [str(converter), "-s", str(spec), "-o", str(collection), "-p", "-O", "folderStrategy=Tags"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    from_collection = load_source(str(collection))
    from_spec = load_source(str(spec))
    assert from_collection.kind == "postman"

    def operations(found: Discovery) -> set[tuple[str, str]]:
        return {(e.method, e.path.split("?")[0]) for e in found.endpoints}

    assert operations(from_collection) == operations(from_spec) - {
        ("POST", "/realms/sample/protocol/openid-connect/token")
    } | {("POST", "/realms/string/protocol/openid-connect/token")}  # `<string>` placeholder -> a sample
    assert not any("<" in e.path for e in from_collection.endpoints)
    assert {e.group for e in from_collection.endpoints} >= {"users", "chaos"}  # tag folders became groups
    # the converter's {{baseUrl}} variable is resolved, and the collection is load testable
    out = tmp_path / "endpoints.json"
    data = merge([from_collection], service="from postman")
    data["endpoints"] = [e for e in data["endpoints"] if e["path"].split("?")[0] in ("/api/users", "/api/health")]
    out.write_text(json.dumps(data))
    result = load_run(demo.url, out, "smoke", smoke_duration="2s")
    assert result.total is not None and result.total.requests > 0 and result.total.error_rate == 0


def test_har_recorded_by_chromium_through_playwright(demo: Demo, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed for this test"
    har = tmp_path / "demo.har"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(record_har_path=str(har), record_har_content="embed")
        page = context.new_page()
        page.goto(demo.url + "/")
        page.goto(demo.url + "/about")
        # what a single-page app does: XHRs from the page, with ids in the path
        page.evaluate(
            """async () => {
              for (const id of [1, 2, 3]) await fetch('/api/users/' + id);
              await fetch('/api/users?limit=5');
              await fetch('/api/users', {method: 'POST', headers: {'Content-Type': 'application/json',
                  'Authorization': 'Bearer har-secret-token'}, body: JSON.stringify({name: 'Ada', email: 'a@x.io'})});
            }"""
        )
        context.close()
        browser.close()
    found = load_source(str(har))
    assert found.kind == "har"
    by_path = {(e.method, e.path.split("?")[0]): e for e in found.endpoints}
    (user,) = [e for e in found.endpoints if e.path.startswith("/api/users/")]  # three ids, one endpoint
    assert user.path == "/api/users/1" and "template /api/users/{id}, seen 3x" in user.source
    assert user.weight == 3.0  # from how often it was seen
    assert by_path[("POST", "/api/users")].body == {"name": "Ada", "email": "a@x.io"}
    assert {(e.path, e.group, e.response_type) for e in found.endpoints if e.group == "pages"} == {
        ("/", "pages", "text/html"),
        ("/about", "pages", "text/html"),
    }
    assert "har-secret-token" not in json.dumps([e.model_dump() for e in found.endpoints])
    assert not any(e.path.endswith((".svg", ".css", ".js", ".png", ".ico")) for e in found.endpoints)


def test_wsdl_from_a_spyne_soap_service_is_load_testable(soap: str, tmp_path: Path, load_run: Runner) -> None:
    found = load_source(f"{soap}/?wsdl")
    assert found.kind == "wsdl" and found.title == "DirectoryService"
    assert sorted(e.name for e in found.endpoints) == ["add", "register", "say_hello"]
    out = tmp_path / "soap.json"
    out.write_text(json.dumps(merge([found], service="soap")))
    result = load_run(soap, out, "smoke", smoke_duration="2s")
    assert result.total is not None and result.total.requests > 0
    for ep in result.endpoints:  # spyne validates every envelope against its schema (lxml)
        assert ep.check_pass_rate == 1.0 and ep.error_rate == 0, ep.name


def test_demo_graphql_introspection(demo: Demo) -> None:
    found = load_source(f"{demo.url}/graphql")
    assert found.kind == "graphql"
    for ep in found.endpoints:
        answer = httpx.post(f"{demo.url}/graphql", json={"query": ep.query, "variables": ep.variables}).json()
        assert answer.get("data") is not None
        assert ("errors" in answer) == (ep.name == "query_boom"), ep.name  # boom always fails, by design


def test_probing_the_demo_finds_spec_graphql_and_pages(demo: Demo) -> None:
    found = load_source(demo.url)
    assert found.kind == "url" and found.title == "Luna demo API"
    kinds = {e.type for e in found.endpoints}
    assert kinds == {"rest", "graphql"}
    graphql_ops = [e for e in found.endpoints if e.type == "graphql"]
    assert {e.name for e in graphql_ops} >= {"query_agents", "mutation_createAgent"}  # introspected, not generic
    assert any(e.response_type == "text/html" and e.path == "/about" for e in found.endpoints)


class _Counter(BaseHTTPRequestHandler):
    hits: list[str] = []
    other = ""

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits.append(self.path)
        if self.path == "/":
            page = (
                f'<html><body><a href="{self.other}/openapi.json">spec elsewhere</a>'
                f'<a href="{self.other}/">other site</a><a href="/next">next</a><a href="/away">away</a></body></html>'
            )
            self._send(200, "text/html", page.encode())
        elif self.path == "/next":
            self._send(200, "text/html", b'<html><a href="/api.json">api</a></html>')
        elif self.path == "/api.json":
            spec = {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {"/x": {"get": {}}}}
            self._send(200, "application/json", json.dumps(spec).encode())
        elif self.path == "/away":
            self.send_response(302)
            self.send_header("Location", f"{self.other}/openapi.json")
            self.end_headers()
        else:
            self._send(404, "text/plain", b"no")

    def do_POST(self) -> None:  # noqa: N802
        type(self).hits.append("POST " + self.path)
        self._send(404, "text/plain", b"no")

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_probing_never_leaves_the_origin() -> None:
    class Target(_Counter):
        hits: list[str] = []

    class Elsewhere(_Counter):
        hits: list[str] = []

    servers = [ThreadingHTTPServer(("127.0.0.1", 0), h) for h in (Target, Elsewhere)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    target, elsewhere = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    Target.other = elsewhere
    try:
        found = load_source(target + "/")
    finally:
        for server in servers:
            server.shutdown()
    assert Elsewhere.hits == []
    assert {e.path for e in found.endpoints} >= {"/x", "/", "/next"}  # the linked spec and the crawled pages
    assert "/api.json" in Target.hits and len(Target.hits) <= 80


def test_unreachable_url_is_one_clear_error() -> None:
    with pytest.raises(LoaderError) as caught:
        load_source(f"http://127.0.0.1:{free_port()}/openapi.json")
    assert caught.value.loader_kind == "reference" and "check the URL" in (caught.value.tip or "")
