"""The demo API's in-memory state, its models and the helpers its routes share."""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from hmac import compare_digest
from pathlib import Path
from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from app.demo.graphql_schema import AgentStore

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
