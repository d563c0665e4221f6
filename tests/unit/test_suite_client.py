"""The generated API suite's client (templates/static/luna_api.py): one logical request is
judged on its final response, redirects are followed to the same origin only and never to
another, and the suite sends what Luna's k6 runner sends (no `Accept: */*` of its own; a form or text
body as written, not as a JSON string)."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType

import httpx
import pytest

from tasks.generation.render import TEMPLATES

pytestmark = pytest.mark.unit


def _luna_api() -> ModuleType:
    spec = importlib.util.spec_from_file_location("luna_api", TEMPLATES / "static" / "luna_api.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Site(BaseHTTPRequestHandler):
    hits: list[str]
    other = ""

    def do_GET(self) -> None:  # noqa: N802
        self.hits.append(f"{self.path} accept={self.headers.get('Accept')}")
        where = {"/hop": "/hop2", "/hop2": "/final", "/loop": "/loop", "/away": f"{self.other}/final"}.get(self.path)
        self.send_response(302 if where else 200)
        if where:
            self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.hits.append(f"POST {self.headers.get('Content-Type')} {body}")
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sites() -> Iterator[tuple[str, list[str], list[str]]]:
    here, there = type("Here", (_Site,), {"hits": []}), type("There", (_Site,), {"hits": []})
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), h) for h in (here, there)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    here.other = f"http://127.0.0.1:{servers[1].server_address[1]}"
    yield f"http://127.0.0.1:{servers[0].server_address[1]}", here.hits, there.hits
    for server in servers:
        server.shutdown()


def test_redirects_on_the_same_origin_are_followed_to_the_final_response(
    sites: tuple[str, list[str], list[str]],
) -> None:
    api, (url, hits, _) = _luna_api(), sites
    with api.new_client({}, None, 5.0) as client:
        response = api.send(client, url, "GET", "/hop")
    assert response.status_code == 200 and response.request.url.path == "/final"
    assert [h.split(" ")[0] for h in hits] == ["/hop", "/hop2", "/final"]


def test_a_redirect_to_another_origin_is_the_answer_and_is_not_followed(
    sites: tuple[str, list[str], list[str]],
) -> None:
    api, (url, _, elsewhere) = _luna_api(), sites
    with api.new_client({}, None, 5.0) as client:
        response = api.send(client, url, "GET", "/away")
    assert response.status_code == 302 and elsewhere == []


def test_a_redirect_loop_stops(sites: tuple[str, list[str], list[str]]) -> None:
    api, (url, hits, _) = _luna_api(), sites
    with api.new_client({}, None, 5.0) as client:
        response = api.send(client, url, "GET", "/loop")
    assert response.status_code == 302 and len(hits) == api.MAX_HOPS + 1


def test_no_accept_header_unless_the_suite_sets_one(sites: tuple[str, list[str], list[str]]) -> None:
    api, (url, hits, _) = _luna_api(), sites
    with api.new_client({}, None, 5.0) as client:
        api.send(client, url, "GET", "/final")
    with api.new_client({"Accept": "image/png"}, None, 5.0) as client:
        api.send(client, url, "GET", "/final")
    assert hits == ["/final accept=None", "/final accept=image/png"]


def test_a_text_body_goes_as_written_and_a_structure_as_json(sites: tuple[str, list[str], list[str]]) -> None:
    api, (url, hits, _) = _luna_api(), sites
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with api.new_client({}, None, 5.0) as client:
        api.send(client, url, "POST", "/subscribe", json="email=a%40b.io&frequency=daily", headers=form)
        api.send(client, url, "POST", "/subscribe", json={"email": "a@b.io"})
    assert hits == [
        "POST application/x-www-form-urlencoded email=a%40b.io&frequency=daily",
        'POST application/json {"email":"a@b.io"}',
    ]


def test_openapi_30_exclusive_bounds_are_read_as_draft_4_wrote_them() -> None:
    api = _luna_api()
    schema = {"type": "object", "properties": {"price": {"type": "number", "minimum": 0, "exclusiveMinimum": True}}}
    priced = httpx.Response(200, json={"price": 1}, request=httpx.Request("GET", "http://127.0.0.1/books"))
    free = httpx.Response(200, json={"price": 0}, request=httpx.Request("GET", "http://127.0.0.1/books"))
    api.expect_schema(priced, schema)  # 1 > 0: valid (a later draft read `true` as 1 and refused it)
    with pytest.raises(AssertionError, match="price"):
        api.expect_schema(free, schema)
    assert api.draft4_bounds({"maximum": 5, "exclusiveMaximum": False}) == {"maximum": 5}
