"""The bundled demo API: Luna's demo target and test fixture.

Everything is in memory and single-process.  All endpoints are ``async def`` so
they run on the event loop (never in the threadpool); state is therefore only
touched from one thread and needs no locks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from hmac import compare_digest
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, unquote_plus

import uvicorn
from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from app.demo import qa_page
from app.demo.graphql_schema import AgentStore, execute_graphql

__all__ = ["DemoState", "RequestCounterMiddleware", "create_app", "serve"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

MAX_USERS = 1000  # users kept in memory; the oldest are dropped beyond this
MAX_SLOW_MS = 5000  # cap for GET /api/slow?ms=
MAX_TOKENS = 100_000  # issued OAuth tokens kept in memory
MAX_COUNT_KEYS = 5000  # distinct "METHOD /path" keys; the rest go to OVERFLOW_KEY
OVERFLOW_KEY = "<other>"
CONTROL_PREFIX = "/__luna"

_SEED_USERS = (
    "Ada Lovelace",
    "Alan Turing",
    "Grace Hopper",
    "Edsger Dijkstra",
    "Margaret Hamilton",
    "Dennis Ritchie",
    "Barbara Liskov",
    "Ken Thompson",
    "Katherine Johnson",
    "Guido van Rossum",
)

_HTML_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}

_ABOUT_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="About the Luna demo API, the bundled load-test target.">
<title>About - Luna demo API</title>
<link rel="icon" href="/static/luna-logo.svg" type="image/svg+xml">
<style>
body { font-family: system-ui, sans-serif; margin: 0; color: #1b1b1f; background: #fafafa; line-height: 1.5; }
header, main, footer { max-width: 44rem; margin: 0 auto; padding: 1rem; }
a { color: #0b4f8a; }
</style>
</head>
<body>
<header>
<nav aria-label="Main"><a href="/">Home</a> | <a href="/about" aria-current="page">About</a></nav>
</header>
<main>
<h1>About the Luna demo API</h1>
<p>This small in-memory API ships with Luna so load tests have a safe, local target.
It only listens on loopback addresses.</p>
</main>
<footer><p>Luna demo API</p></footer>
</body>
</html>
"""


# --------------------------------------------------------------------------- models


class User(BaseModel):
    id: int
    name: str
    email: str


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["Ada Lovelace"])
    email: str = Field(
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        examples=["ada@example.com"],
    )


class UserList(BaseModel):
    data: list[User]
    count: int


class UserEnvelope(BaseModel):
    data: User


class SearchResult(BaseModel):
    data: list[User]
    q: str


class Health(BaseModel):
    status: str


class SlowResult(BaseModel):
    slept_ms: int


class FlakyResult(BaseModel):
    ok: bool
    n: int


class SecureResult(BaseModel):
    ok: bool
    auth: Literal["bearer", "oauth", "basic", "api_key"]


class TokenResponse(BaseModel):
    access_token: str
    expires_in: int
    refresh_expires_in: int = 0
    token_type: str = "Bearer"
    scope: str = "profile email"


class ErrorBody(BaseModel):
    error: str


class OAuthError(BaseModel):
    error: str
    error_description: str | None = None


class Detail(BaseModel):
    detail: str


# --------------------------------------------------------------------------- state


@dataclass
class DemoState:
    """Mutable in-memory state of one demo app instance."""

    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    flaky_calls: int = 0
    tokens_issued: int = 0
    tokens: dict[str, float] = field(default_factory=dict)  # token -> monotonic expiry
    users: dict[int, User] = field(default_factory=dict)
    next_user_id: int = 1
    agents: AgentStore = field(default_factory=AgentStore.seeded)

    def __post_init__(self) -> None:
        if not self.users:
            for name in _SEED_USERS:
                self.add_user(name, name.lower().replace(" ", ".") + "@example.com")

    def record(self, key: str) -> None:
        counts = self.counts
        n = counts.get(key)
        if n is None:
            if len(counts) >= MAX_COUNT_KEYS:
                key = OVERFLOW_KEY
            n = counts.get(key, 0)
        counts[key] = n + 1
        self.total += 1

    def reset(self) -> None:
        self.counts = {}
        self.total = 0
        self.flaky_calls = 0
        self.tokens_issued = 0

    def add_user(self, name: str, email: str) -> User:
        user = User(id=self.next_user_id, name=name, email=email)
        self.next_user_id += 1
        self.users[user.id] = user
        # Drop the oldest created user; the seeded ones stay, so /api/users/1 always exists.
        while len(self.users) > MAX_USERS:
            oldest = next(uid for uid in self.users if uid > len(_SEED_USERS))
            del self.users[oldest]
        return user

    def add_token(self, token: str, expires_at: float) -> None:
        tokens = self.tokens
        if len(tokens) >= MAX_TOKENS:
            now = time.monotonic()
            for old in [t for t, exp in tokens.items() if exp <= now]:
                del tokens[old]
            if len(tokens) >= MAX_TOKENS:  # all still valid: drop the oldest 10%
                for old in list(tokens)[: max(1, MAX_TOKENS // 10)]:
                    del tokens[old]
        tokens[token] = expires_at
        self.tokens_issued += 1

    def token_valid(self, token: str) -> bool:
        expires_at = self.tokens.get(token)
        if expires_at is None:
            return False
        if expires_at > time.monotonic():
            return True
        del self.tokens[token]
        return False


class RequestCounterMiddleware:
    """Pure ASGI middleware counting HTTP requests by ``"METHOD /path"``.

    Control paths (``/__luna`` and below) are not counted.  Runs on the event
    loop only, so the plain dict update is safe for a single asyncio worker.
    """

    __slots__ = ("app", "state")

    def __init__(self, app: ASGIApp, state: DemoState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if not path.startswith(CONTROL_PREFIX) or not (
                len(path) == len(CONTROL_PREFIX) or path[len(CONTROL_PREFIX)] == "/"
            ):
                self.state.record(scope["method"] + " " + path)
        await self.app(scope, receive, send)


# --------------------------------------------------------------------------- helpers


@lru_cache(maxsize=256)
def _ratio(rate: float) -> tuple[int, int]:
    """``rate`` as an exact fraction (via its shortest repr, so 0.29 is 29/100)."""
    frac = Fraction(repr(rate)).limit_denominator(1_000_000_000)
    return frac.numerator, frac.denominator


def flaky_fails(k: int, rate: float) -> bool:
    """Whether the k-th (1-based) flaky call fails: floor(k*rate) > floor((k-1)*rate)."""
    num, den = _ratio(rate)
    return (k * num) // den > ((k - 1) * num) // den


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """Decode an ``Authorization: Basic ...`` header into (user, password)."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password


def _eq(given: str, expected: bytes) -> bool:
    return compare_digest(given.encode("utf-8", "surrogateescape"), expected)


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="luna-demo"'
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)


_SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {"type": "http", "scheme": "bearer"},
    "basicAuth": {"type": "http", "scheme": "basic"},
    "oauth2": {
        "type": "oauth2",
        "flows": {"clientCredentials": {"tokenUrl": "/realms/luna/protocol/openid-connect/token", "scopes": {}}},
    },
}


# --------------------------------------------------------------------------- app


def create_app(
    *,
    error_rate: float = 0.2,
    slow_ms: int = 50,
    token_ttl_s: int = 300,
    client_id: str = "luna",
    client_secret: str = "luna-secret",
    static_token: str = "demo-token",
    basic_user: str = "demo",
    basic_pass: str = "demo-pass",
    api_key: str = "demo-key",
    api_key_header: str = "X-API-Key",
) -> FastAPI:
    """Build a fresh demo app with its own in-memory state (``app.state.demo``)."""
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError(f"error_rate must be within [0, 1], got {error_rate!r}")
    if slow_ms < 0:
        raise ValueError(f"slow_ms must be >= 0, got {slow_ms!r}")
    if token_ttl_s < 1:
        raise ValueError(f"token_ttl_s must be >= 1, got {token_ttl_s!r}")

    state = DemoState()
    index_html = (STATIC_DIR / "index.html").read_bytes()
    about_html = _ABOUT_HTML.encode("utf-8")

    static_token_b = static_token.encode("utf-8")
    basic_user_b, basic_pass_b = basic_user.encode("utf-8"), basic_pass.encode("utf-8")
    api_key_b = api_key.encode("utf-8")
    client_id_b, client_secret_b = client_id.encode("utf-8"), client_secret.encode("utf-8")

    security_schemes = dict(_SECURITY_SCHEMES)
    security_schemes["apiKeyAuth"] = {"type": "apiKey", "in": "header", "name": api_key_header}

    app = FastAPI(
        title="Luna demo API",
        version="1.0.0",
        description=(
            "In-memory demo target bundled with Luna: users CRUD, search, latency and "
            "failure injection, several auth schemes, a Keycloak-style token endpoint and GraphQL."
        ),
        redoc_url=None,
    )
    app.state.demo = state
    app.add_middleware(RequestCounterMiddleware, state=state)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # ---- control (not in the OpenAPI document, not counted) -----------------

    @app.get("/__luna/stats", include_in_schema=False)
    async def luna_stats() -> dict[str, Any]:
        return {"requests": dict(state.counts), "total": state.total, "tokens_issued": state.tokens_issued}

    @app.post("/__luna/reset", include_in_schema=False)
    async def luna_reset() -> dict[str, bool]:
        state.reset()
        return {"ok": True}

    # ---- pages --------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, tags=["pages"], operation_id="indexPage", summary="Home page")
    async def index_page() -> HTMLResponse:
        return HTMLResponse(index_html, headers=_HTML_HEADERS)

    @app.get("/about", response_class=HTMLResponse, tags=["pages"], operation_id="aboutPage", summary="About page")
    async def about_page() -> HTMLResponse:
        return HTMLResponse(about_html, headers=_HTML_HEADERS)

    # ---- basic JSON API -----------------------------------------------------

    @app.get("/api/health", tags=["health"], operation_id="getHealth", summary="Health check")
    async def health() -> Health:
        return Health(status="ok")

    @app.get("/api/users", tags=["users"], operation_id="listUsers", summary="List users")
    async def list_users(
        limit: int = Query(20, ge=1, le=MAX_USERS, description="Return at most this many users."),
    ) -> UserList:
        """The first `limit` stored users, oldest first (10 seeded users on start): the
        response does not grow as a load test creates users."""
        users = list(itertools.islice(state.users.values(), limit))
        return UserList(data=users, count=len(users))

    @app.get(
        "/api/users/{user_id}",
        tags=["users"],
        operation_id="getUser",
        summary="Get one user by id",
        responses={404: {"model": Detail, "description": "No such user"}},
    )
    async def get_user(user_id: int) -> UserEnvelope:
        user = state.users.get(user_id)
        if user is None:
            raise HTTPException(status_code=404, detail=f"user {user_id} not found")
        return UserEnvelope(data=user)

    @app.post("/api/users", status_code=201, tags=["users"], operation_id="createUser", summary="Create a user")
    async def create_user(body: UserCreate) -> UserEnvelope:
        """Store a new user in memory (the oldest users are dropped beyond 1000)."""
        return UserEnvelope(data=state.add_user(body.name, body.email))

    @app.get("/api/search", tags=["users"], operation_id="searchUsers", summary="Search users by name")
    async def search_users(
        response: Response,
        q: str = Query("", max_length=200, description="Case-insensitive substring of the user's name."),
    ) -> SearchResult:
        """Users whose name contains ``q``; the match count is in the ``X-Result-Count`` header."""
        needle = q.casefold()
        found = [u for u in state.users.values() if needle in u.name.casefold()]
        response.headers["X-Result-Count"] = str(len(found))
        return SearchResult(data=found, q=q)

    # ---- latency / failure injection ----------------------------------------

    @app.get("/api/slow", tags=["chaos"], operation_id="getSlow", summary="Respond after a fixed delay")
    async def slow(
        ms: int | None = Query(None, ge=0, description=f"Delay in ms (default {slow_ms}, capped at {MAX_SLOW_MS})."),
    ) -> SlowResult:
        delay = min(slow_ms if ms is None else ms, MAX_SLOW_MS)
        await asyncio.sleep(delay / 1000)
        return SlowResult(slept_ms=delay)

    @app.get(
        "/api/flaky",
        response_model=FlakyResult,
        tags=["chaos"],
        operation_id="getFlaky",
        summary="Fail deterministically at a given rate",
        responses={500: {"model": ErrorBody, "description": "Injected failure"}},
    )
    async def flaky(
        rate: float | None = Query(None, ge=0.0, le=1.0, description=f"Failure rate (default {error_rate})."),
    ) -> FlakyResult | JSONResponse:
        """Call k (1-based, shared counter) fails when floor(k*rate) > floor((k-1)*rate)."""
        state.flaky_calls += 1
        k = state.flaky_calls
        if flaky_fails(k, error_rate if rate is None else rate):
            return JSONResponse({"error": "injected failure"}, status_code=500)
        return FlakyResult(ok=True, n=k)

    @app.get(
        "/api/always500",
        tags=["chaos"],
        operation_id="getAlways500",
        summary="Always fail with HTTP 500",
        response_class=JSONResponse,
        responses={500: {"model": ErrorBody, "description": "Always returned"}},
    )
    async def always500() -> JSONResponse:
        return JSONResponse({"error": "boom"}, status_code=500)

    # ---- auth ---------------------------------------------------------------

    def authenticate(request: Request) -> Literal["bearer", "oauth", "basic", "api_key"] | None:
        headers = request.headers
        authorization = headers.get("authorization")
        if authorization:
            scheme, _, value = authorization.partition(" ")
            scheme = scheme.lower()
            if scheme == "bearer":
                token = value.strip()
                if token:
                    if _eq(token, static_token_b):
                        return "bearer"
                    if state.token_valid(token):
                        return "oauth"
            elif scheme == "basic":
                creds = _basic_credentials(authorization)
                if creds is not None and _eq(creds[0], basic_user_b) & _eq(creds[1], basic_pass_b):
                    return "basic"
        key = headers.get(api_key_header)
        if key is not None and _eq(key, api_key_b):
            return "api_key"
        return None

    @app.get(
        "/api/secure",
        response_model=SecureResult,
        tags=["auth"],
        operation_id="getSecure",
        summary="Auth-protected resource (bearer, OAuth token, basic or API key)",
        responses={401: {"model": Detail, "description": "No valid credentials"}},
        openapi_extra={"security": [{"bearerAuth": []}, {"oauth2": []}, {"basicAuth": []}, {"apiKeyAuth": []}]},
    )
    async def secure(request: Request) -> SecureResult | JSONResponse:
        mode = authenticate(request)
        if mode is None:
            return JSONResponse(
                {"detail": "unauthorized"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="luna-demo"'},
            )
        return SecureResult(ok=True, auth=mode)

    @app.post(
        "/realms/{realm}/protocol/openid-connect/token",
        response_model=TokenResponse,
        tags=["auth"],
        operation_id="issueToken",
        summary="Keycloak-compatible client-credentials token endpoint",
        responses={
            400: {"model": OAuthError, "description": "Missing or unsupported grant_type"},
            401: {"model": OAuthError, "description": "Invalid client credentials"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["grant_type"],
                            "properties": {
                                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                                "client_id": {"type": "string"},
                                "client_secret": {"type": "string"},
                            },
                        }
                    }
                },
            }
        },
    )
    async def issue_token(
        realm: str,
        request: Request,
        response: Response,
        ttl: int | None = Query(None, description="Override the token lifetime in seconds (min 1)."),
    ) -> TokenResponse | JSONResponse:
        """Form body ``grant_type=client_credentials&client_id=...&client_secret=...``
        (HTTP Basic client authentication is accepted too). Any realm name works."""
        # python-multipart is not a dependency, so parse the urlencoded body ourselves.
        form = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        grant_type = form.get("grant_type", [""])[0]
        if not grant_type:
            return _oauth_error(400, "invalid_request", "Missing form parameter: grant_type")
        cid = form.get("client_id", [""])[0]
        secret = form.get("client_secret", [""])[0]
        basic = _basic_credentials(request.headers.get("authorization"))
        if basic is not None:  # RFC 6749 2.3.1: both parts are form-urlencoded
            cid, secret = unquote_plus(basic[0]), unquote_plus(basic[1])
        if not (_eq(cid, client_id_b) & _eq(secret, client_secret_b)):
            return _oauth_error(401, "invalid_client", "Invalid client or Invalid client credentials")
        if grant_type != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant_type!r}")
        lifetime = token_ttl_s if ttl is None else max(1, ttl)
        token = secrets.token_urlsafe(32)
        state.add_token(token, time.monotonic() + lifetime)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return TokenResponse(access_token=token, expires_in=lifetime)

    # ---- GraphQL ------------------------------------------------------------

    @app.post(
        "/graphql",
        tags=["graphql"],
        operation_id="graphql",
        summary="GraphQL endpoint (agents)",
        response_class=JSONResponse,
        responses={
            200: {
                "description": "GraphQL response; `errors` is present only when something failed",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "data": {"type": ["object", "null"]},
                                "errors": {"type": "array", "items": {"type": "object"}},
                            },
                        }
                    }
                },
            },
            400: {"description": "Body is not a valid GraphQL-over-HTTP JSON request"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["query"],
                            "properties": {
                                "query": {"type": "string", "example": "{ agents(limit: 3) { id name status } }"},
                                "variables": {"type": ["object", "null"]},
                                "operationName": {"type": ["string", "null"]},
                            },
                        }
                    }
                },
            }
        },
    )
    async def graphql_endpoint(request: Request) -> JSONResponse:
        """Standard GraphQL-over-HTTP JSON body ``{query, variables, operationName}``.
        Schema: ``agents(limit)``, ``agent(id)``, ``boom`` (always errors), mutation ``createAgent(name)``."""
        try:
            payload = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _bad_graphql("request body is not valid JSON")
        if not isinstance(payload, dict):
            return _bad_graphql("request body must be a JSON object")
        query = payload.get("query")
        variables = payload.get("variables")
        operation_name = payload.get("operationName")
        if not isinstance(query, str) or not query.strip():
            return _bad_graphql("'query' must be a non-empty string")
        if variables is not None and not isinstance(variables, dict):
            return _bad_graphql("'variables' must be an object or null")
        if operation_name is not None and not isinstance(operation_name, str):
            return _bad_graphql("'operationName' must be a string or null")
        return JSONResponse(execute_graphql(state.agents, query, variables, operation_name))

    def _openapi() -> dict[str, Any]:
        schema = FastAPI.openapi(app)
        schema.setdefault("components", {}).setdefault("securitySchemes", security_schemes)
        return schema

    app.openapi = _openapi  # type: ignore[method-assign]
    qa_page.register(app)  # GET /qa-lab: planted problems for visual QA (not in the OpenAPI document)
    return app


def _bad_graphql(message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message}]}, status_code=400)


# --------------------------------------------------------------------------- serve


def _loopback_host(host: str) -> str:
    """Return ``host`` ready for uvicorn, or raise ValueError if it is not loopback."""
    candidate = host.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    if candidate.lower() == "localhost":
        return candidate
    try:
        ip = ipaddress.ip_address(candidate)
    except ValueError:
        ip = None
    if ip is not None:
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        if ip.is_loopback or (mapped is not None and mapped.is_loopback):
            return candidate
    raise ValueError(
        f"refusing to serve the Luna demo API on {host!r}: it may only bind a loopback "
        "address (127.0.0.0/8, ::1 or 'localhost')"
    )


def serve(host: str = "127.0.0.1", port: int = 8787, **app_kwargs: Any) -> None:
    """Run the demo API with uvicorn (blocking). Only loopback hosts are allowed."""
    bind = _loopback_host(host)
    uvicorn.run(create_app(**app_kwargs), host=bind, port=port, log_level="warning", access_log=False)
