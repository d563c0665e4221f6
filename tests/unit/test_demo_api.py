"""Unit tests for the bundled demo API (app.demo)."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

import app.demo.app as demo_app
from app.demo import create_app, serve

pytestmark = pytest.mark.unit

TOKEN_PATH = "/realms/luna/protocol/openid-connect/token"


class Client:
    """Synchronous facade over httpx.AsyncClient + ASGITransport on one event loop.

    (Starlette's TestClient warns about httpx being deprecated in this stack.)
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._runner = asyncio.Runner()
        self._http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo.test")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._runner.run(self._http.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self._runner.run(self._http.aclose())
        self._runner.close()


def make_client(**kwargs: Any) -> Client:
    return Client(create_app(**kwargs))


@pytest.fixture
def client() -> Iterator[Client]:
    c = make_client()
    yield c
    c.close()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def get_token(client: Client, **params: Any) -> httpx.Response:
    return client.post(
        TOKEN_PATH,
        params=params,
        data={"grant_type": "client_credentials", "client_id": "luna", "client_secret": "luna-secret"},
    )


# --------------------------------------------------------------------------- counting / control


def test_stats_count_requests_by_method_and_path(client: Client) -> None:
    for _ in range(3):
        assert client.get("/api/health").status_code == 200
    client.get("/api/users?limit=2")
    client.get("/api/users/1")
    client.post("/api/users", json={"name": "Zed", "email": "zed@example.com"})
    client.get("/nope")  # 404s are served requests too

    stats = client.get("/__luna/stats").json()
    assert stats["requests"] == {
        "GET /api/health": 3,
        "GET /api/users": 1,  # the query string is not part of the key
        "GET /api/users/1": 1,
        "POST /api/users": 1,
        "GET /nope": 1,
    }
    assert stats["total"] == 7
    assert stats["tokens_issued"] == 0
    # control paths are never counted
    assert not any(key.split(" ", 1)[1].startswith("/__luna") for key in stats["requests"])


def test_reset_zeroes_counts_and_flaky_counter(client: Client) -> None:
    for _ in range(3):
        client.get("/api/flaky")
    assert client.post("/__luna/reset").json() == {"ok": True}
    stats = client.get("/__luna/stats").json()
    assert stats == {"requests": {}, "total": 0, "tokens_issued": 0}
    # the flaky counter restarts at 1
    assert client.get("/api/flaky").json() == {"ok": True, "n": 1}


def test_counter_keys_are_bounded(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_app, "MAX_COUNT_KEYS", 3)
    for i in range(6):
        client.get(f"/missing/{i}")
    stats = client.get("/__luna/stats").json()
    assert len(stats["requests"]) == 4
    assert stats["requests"][demo_app.OVERFLOW_KEY] == 3
    assert stats["total"] == 6


# --------------------------------------------------------------------------- basic API


def test_health(client: Client) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_list_users(client: Client) -> None:
    body = client.get("/api/users").json()
    assert body["count"] == 10
    assert len(body["data"]) == 10
    assert set(body["data"][0]) == {"id", "name", "email"}
    assert client.get("/api/users", params={"limit": 3}).json()["count"] == 3


def test_get_user_and_404_and_422(client: Client) -> None:
    r = client.get("/api/users/3")
    assert r.status_code == 200
    assert r.json()["data"]["id"] == 3

    r = client.get("/api/users/999")
    assert r.status_code == 404
    assert "detail" in r.json()

    assert client.get("/api/users/abc").status_code == 422


def test_create_user(client: Client) -> None:
    r = client.post("/api/users", json={"name": "Nova", "email": "nova@example.com"})
    assert r.status_code == 201
    data = r.json()["data"]
    assert data == {"id": 11, "name": "Nova", "email": "nova@example.com"}
    assert client.get("/api/users/11").json()["data"]["name"] == "Nova"
    assert client.get("/api/users").json()["count"] == 11


@pytest.mark.parametrize(
    "body",
    [
        {"name": "No email"},
        {"email": "x@example.com"},
        {"name": "", "email": "x@example.com"},
        {"name": "Bad", "email": "not-an-email"},
        ["not", "an", "object"],
    ],
)
def test_create_user_rejects_bad_input(client: Client, body: Any) -> None:
    assert client.post("/api/users", json=body).status_code == 422


def test_users_are_bounded(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_app, "MAX_USERS", 12)
    for i in range(5):
        assert client.post("/api/users", json={"name": f"u{i}", "email": f"u{i}@example.com"}).status_code == 201
    ids = [u["id"] for u in client.get("/api/users").json()["data"]]
    assert ids == [*range(1, 11), 14, 15]  # seeded users stay; the oldest created ones go
    assert client.get("/api/users/1").status_code == 200
    assert client.get("/api/users/11").status_code == 404


def test_user_list_is_one_page(client: Client) -> None:
    for i in range(15):
        client.post("/api/users", json={"name": f"u{i}", "email": f"u{i}@example.com"})
    assert client.get("/api/users").json()["count"] == 20
    assert client.get("/api/users", params={"limit": 3}).json()["count"] == 3


def test_search_is_case_insensitive_with_count_header(client: Client) -> None:
    r = client.get("/api/search", params={"q": "aDa"})
    assert r.status_code == 200
    body = r.json()
    assert body["q"] == "aDa"
    assert [u["name"] for u in body["data"]] == ["Ada Lovelace"]
    assert r.headers["X-Result-Count"] == "1"

    r = client.get("/api/search", params={"q": "zzz"})
    assert r.json()["data"] == []
    assert r.headers["X-Result-Count"] == "0"

    r = client.get("/api/search", params={"q": "an"})  # Alan, Margaret Hamilton, Guido van Rossum...
    assert int(r.headers["X-Result-Count"]) == len(r.json()["data"]) > 1


# --------------------------------------------------------------------------- latency / failure injection


def test_slow_default_delay(client: Client) -> None:
    start = time.perf_counter()
    r = client.get("/api/slow")
    elapsed = time.perf_counter() - start
    assert r.json() == {"slept_ms": 50}
    assert elapsed >= 0.05


def test_slow_override_and_cap(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    start = time.perf_counter()
    assert client.get("/api/slow", params={"ms": 120}).json() == {"slept_ms": 120}
    assert time.perf_counter() - start >= 0.12
    assert client.get("/api/slow", params={"ms": 0}).json() == {"slept_ms": 0}
    assert client.get("/api/slow", params={"ms": -1}).status_code == 422

    monkeypatch.setattr(demo_app, "MAX_SLOW_MS", 30)  # keep the cap check fast
    assert client.get("/api/slow", params={"ms": 999_999}).json() == {"slept_ms": 30}


def test_slow_ms_setting() -> None:
    c = make_client(slow_ms=5)
    try:
        assert c.get("/api/slow").json() == {"slept_ms": 5}
    finally:
        c.close()


def test_flaky_fails_exactly_one_in_five(client: Client) -> None:
    statuses = [client.get("/api/flaky") for _ in range(20)]
    failed = [i + 1 for i, r in enumerate(statuses) if r.status_code == 500]
    assert failed == [5, 10, 15, 20]
    for k, r in enumerate(statuses, start=1):
        if r.status_code == 500:
            assert r.json() == {"error": "injected failure"}
        else:
            assert r.status_code == 200
            assert r.json() == {"ok": True, "n": k}


@pytest.mark.parametrize(("rate", "expected_failures"), [(0.0, 0), (1.0, 20), (0.5, 10), (0.25, 5), (0.1, 2)])
def test_flaky_rate_override(client: Client, rate: float, expected_failures: int) -> None:
    codes = [client.get("/api/flaky", params={"rate": rate}).status_code for _ in range(20)]
    assert codes.count(500) == expected_failures
    assert codes.count(200) == 20 - expected_failures


def test_flaky_error_rate_setting_and_bad_rate() -> None:
    c = make_client(error_rate=0.0)
    try:
        assert all(c.get("/api/flaky").status_code == 200 for _ in range(10))
        assert c.get("/api/flaky", params={"rate": 1.5}).status_code == 422
        assert c.get("/api/flaky", params={"rate": -0.1}).status_code == 422
    finally:
        c.close()


def test_flaky_formula_is_exact_for_awkward_rates() -> None:
    # 0.29 * 100 == 28.999999999999996 in floats; the fraction maths must still give 29 failures
    assert sum(demo_app.flaky_fails(k, 0.29) for k in range(1, 101)) == 29
    assert sum(demo_app.flaky_fails(k, 1 / 3) for k in range(1, 301)) == 100


def test_always500(client: Client) -> None:
    for _ in range(3):
        r = client.get("/api/always500")
        assert r.status_code == 500
        assert r.json() == {"error": "boom"}


def test_create_app_validates_settings() -> None:
    with pytest.raises(ValueError):
        create_app(error_rate=1.5)
    with pytest.raises(ValueError):
        create_app(slow_ms=-1)
    with pytest.raises(ValueError):
        create_app(token_ttl_s=0)


# --------------------------------------------------------------------------- auth


def test_secure_static_bearer(client: Client) -> None:
    r = client.get("/api/secure", headers={"Authorization": "Bearer demo-token"})
    assert r.status_code == 200
    assert r.json() == {"ok": True, "auth": "bearer"}
    r = client.get("/api/secure", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert r.json() == {"detail": "unauthorized"}


def test_secure_basic(client: Client) -> None:
    r = client.get("/api/secure", headers=basic("demo", "demo-pass"))
    assert r.json() == {"ok": True, "auth": "basic"}
    assert client.get("/api/secure", headers=basic("demo", "nope")).status_code == 401
    assert client.get("/api/secure", headers=basic("other", "demo-pass")).status_code == 401
    assert client.get("/api/secure", headers={"Authorization": "Basic !!!not-base64"}).status_code == 401
    no_colon = base64.b64encode(b"demodemo-pass").decode()
    assert client.get("/api/secure", headers={"Authorization": f"Basic {no_colon}"}).status_code == 401


def test_secure_api_key(client: Client) -> None:
    r = client.get("/api/secure", headers={"X-API-Key": "demo-key"})
    assert r.json() == {"ok": True, "auth": "api_key"}
    assert client.get("/api/secure", headers={"X-API-Key": "wrong"}).status_code == 401


def test_secure_custom_settings() -> None:
    c = make_client(api_key="k1", api_key_header="X-Token", static_token="s3cr3t", basic_user="u", basic_pass="p")
    try:
        assert c.get("/api/secure", headers={"X-Token": "k1"}).json()["auth"] == "api_key"
        assert c.get("/api/secure", headers={"X-API-Key": "k1"}).status_code == 401
        assert c.get("/api/secure", headers={"Authorization": "Bearer s3cr3t"}).json()["auth"] == "bearer"
        assert c.get("/api/secure", headers={"Authorization": "Bearer demo-token"}).status_code == 401
        assert c.get("/api/secure", headers=basic("u", "p")).json()["auth"] == "basic"
    finally:
        c.close()


def test_secure_rejects_missing_credentials(client: Client) -> None:
    r = client.get("/api/secure")
    assert r.status_code == 401
    assert r.json() == {"detail": "unauthorized"}
    assert "WWW-Authenticate" in r.headers
    assert client.get("/api/secure", headers={"Authorization": "Bearer"}).status_code == 401
    assert client.get("/api/secure", headers={"Authorization": "Digest abc"}).status_code == 401


def test_secure_any_valid_credential_wins(client: Client) -> None:
    r = client.get("/api/secure", headers={"Authorization": "Bearer wrong", "X-API-Key": "demo-key"})
    assert r.json() == {"ok": True, "auth": "api_key"}


# --------------------------------------------------------------------------- token endpoint


def test_token_endpoint_issues_usable_tokens(client: Client) -> None:
    r = get_token(client)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    token = body["access_token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", token)
    assert r.headers["Cache-Control"] == "no-store"

    r = client.get("/api/secure", headers={"Authorization": f"Bearer {token}"})
    assert r.json() == {"ok": True, "auth": "oauth"}

    assert get_token(client).json()["access_token"] != token
    assert client.get("/__luna/stats").json()["tokens_issued"] == 2


def test_token_endpoint_basic_client_auth_and_any_realm(client: Client) -> None:
    r = client.post(
        "/realms/other/protocol/openid-connect/token",
        data={"grant_type": "client_credentials"},
        headers=basic("luna", "luna-secret"),
    )
    assert r.status_code == 200
    assert r.json()["access_token"]


def test_token_endpoint_invalid_client(client: Client) -> None:
    r = client.post(TOKEN_PATH, data={"grant_type": "client_credentials", "client_id": "luna", "client_secret": "x"})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    r = client.post(TOKEN_PATH, data={"grant_type": "client_credentials"}, headers=basic("luna", "bad"))
    assert r.status_code == 401
    r = client.post(TOKEN_PATH, data={"grant_type": "client_credentials"})
    assert r.status_code == 401
    assert client.get("/__luna/stats").json()["tokens_issued"] == 0


def test_token_endpoint_grant_type_errors(client: Client) -> None:
    r = client.post(TOKEN_PATH, data={"grant_type": "password", "client_id": "luna", "client_secret": "luna-secret"})
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"
    r = client.post(TOKEN_PATH, data={"client_id": "luna", "client_secret": "luna-secret"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


def test_token_expiry_with_ttl_override(client: Client) -> None:
    r = get_token(client, ttl=1)
    assert r.json()["expires_in"] == 1
    token = r.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/secure", headers=headers).status_code == 200
    time.sleep(1.1)
    r = client.get("/api/secure", headers=headers)
    assert r.status_code == 401
    assert r.json() == {"detail": "unauthorized"}
    assert token not in client.app.state.demo.tokens  # expired tokens are pruned on use


def test_token_ttl_setting_and_minimum() -> None:
    c = make_client(token_ttl_s=42)
    try:
        assert get_token(c).json()["expires_in"] == 42
        assert get_token(c, ttl=0).json()["expires_in"] == 1
    finally:
        c.close()


def test_token_store_is_bounded(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_app, "MAX_TOKENS", 5)
    tokens = [get_token(client).json()["access_token"] for _ in range(8)]
    store = client.app.state.demo.tokens
    assert len(store) <= 5
    assert tokens[-1] in store
    assert client.get("/__luna/stats").json()["tokens_issued"] == 8


# --------------------------------------------------------------------------- GraphQL


def gql(client: Client, query: str, variables: dict[str, Any] | None = None, **extra: Any) -> httpx.Response:
    return client.post("/graphql", json={"query": query, "variables": variables, **extra})


def test_graphql_agents_query(client: Client) -> None:
    r = gql(client, "{ agents { id name status } }")
    assert r.status_code == 200
    body = r.json()
    assert "errors" not in body
    assert len(body["data"]["agents"]) == 10
    assert body["data"]["agents"][0] == {"id": "1", "name": "agent-1", "status": "online"}

    body = gql(client, "query($n: Int) { agents(limit: $n) { id } }", {"n": 3}).json()
    assert [a["id"] for a in body["data"]["agents"]] == ["1", "2", "3"]


def test_graphql_agent_by_id(client: Client) -> None:
    q = "query One($id: ID!) { agent(id: $id) { id name } }"
    assert gql(client, q, {"id": "2"}).json() == {"data": {"agent": {"id": "2", "name": "agent-2"}}}
    assert gql(client, q, {"id": "nope"}).json() == {"data": {"agent": None}}


def test_graphql_mutation(client: Client) -> None:
    r = gql(client, 'mutation { createAgent(name: "probe") { id name status } }')
    agent = r.json()["data"]["createAgent"]
    assert agent["name"] == "probe"
    assert agent["status"] == "online"
    got = gql(client, "query($id: ID!) { agent(id: $id) { name } }", {"id": agent["id"]}).json()
    assert got == {"data": {"agent": {"name": "probe"}}}


def test_graphql_field_error(client: Client) -> None:
    r = gql(client, "{ boom agents(limit: 1) { id } }")
    assert r.status_code == 200
    body = r.json()
    assert body["data"] == {"boom": None, "agents": [{"id": "1"}]}
    assert len(body["errors"]) == 1
    assert body["errors"][0]["path"] == ["boom"]
    assert "boom" in body["errors"][0]["message"]


def test_graphql_request_errors(client: Client) -> None:
    # syntax and validation errors: HTTP 200, errors, no data
    r = gql(client, "{ agents { id ")
    assert r.status_code == 200
    assert "data" not in r.json()
    assert r.json()["errors"][0]["message"].startswith("Syntax Error")

    r = gql(client, "{ nosuchfield }")
    assert r.status_code == 200
    assert "nosuchfield" in r.json()["errors"][0]["message"]

    # operationName picks the operation
    doc = 'query A { agents(limit: 1) { id } } query B { agent(id: "3") { id } }'
    assert gql(client, doc, operationName="B").json() == {"data": {"agent": {"id": "3"}}}


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[1, 2]", b'{"variables": {}}', b'{"query": 5}', b'{"query": "{ boom }", "variables": [1]}'],
)
def test_graphql_bad_body_is_400(client: Client, content: bytes) -> None:
    r = client.post("/graphql", content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["errors"]


# --------------------------------------------------------------------------- pages / OpenAPI


def test_index_page_is_self_contained_html(client: Client) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert html.lower().startswith("<!doctype html>")
    assert '<html lang="en">' in html
    assert "<title>" in html
    assert 'name="viewport"' in html
    assert 'name="description"' in html
    for tag in ("<header", "<nav", "<main", "<footer", "<h1", "<form", "<label"):
        assert tag in html
    # every reference is local
    refs = re.findall(r'(?:src|href|action)="([^"]*)"', html)
    assert refs
    assert all(ref.startswith(("/", "#")) and not ref.startswith("//") for ref in refs), refs
    assert "http://" not in html
    assert "https://" not in html
    assert "url(" not in html and "@import" not in html
    # images have alt text and are served locally
    imgs = re.findall(r"<img [^>]*>", html)
    assert imgs
    for img in imgs:
        assert re.search(r'alt="[^"]+"', img)
        src = re.search(r'src="([^"]+)"', img)
        assert src is not None
        got = client.get(src.group(1))
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("image/")
    # labelled form controls
    for control_id in re.findall(r'<input[^>]* id="([^"]+)"', html):
        assert f'for="{control_id}"' in html


def test_about_page(client: Client) -> None:
    r = client.get("/about")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<h1>" in r.text
    assert 'lang="en"' in r.text


def test_openapi_document(client: Client) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert not any(p.startswith("/__luna") for p in paths)
    ops = {op["operationId"]: op for item in paths.values() for op in item.values()}
    for op_id in (
        "getHealth",
        "listUsers",
        "getUser",
        "createUser",
        "searchUsers",
        "getSlow",
        "getFlaky",
        "getAlways500",
        "getSecure",
        "issueToken",
        "graphql",
        "indexPage",
        "aboutPage",
    ):
        assert op_id in ops
        assert ops[op_id]["summary"]
    assert set(spec["components"]["securitySchemes"]) == {"bearerAuth", "basicAuth", "apiKeyAuth", "oauth2"}
    assert "requestBody" in ops["issueToken"]
    assert "requestBody" in ops["graphql"]


# --------------------------------------------------------------------------- serve()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "", "localhost.evil.com"])
def test_serve_refuses_non_loopback(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("uvicorn.run must not be called")

    monkeypatch.setattr(uvicorn, "run", fail)
    with pytest.raises(ValueError, match="loopback"):
        serve(host=host)


@pytest.mark.parametrize(
    ("host", "bound"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1.2.3", "127.1.2.3"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("localhost", "localhost"),
    ],
)
def test_serve_runs_uvicorn_on_loopback(host: str, bound: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []

    def fake_run(app: Any, **kwargs: Any) -> None:
        calls.append((app, kwargs))

    monkeypatch.setattr(uvicorn, "run", fake_run)
    serve(host=host, port=18788, slow_ms=7)
    assert len(calls) == 1
    app, kwargs = calls[0]
    assert isinstance(app, FastAPI)
    assert kwargs == {"host": bound, "port": 18788, "log_level": "warning", "access_log": False}
