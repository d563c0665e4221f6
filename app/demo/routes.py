"""The demo API's routes, one function per group; app.py assembles them."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, unquote_plus

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from app.demo import state as limits
from app.demo.graphql_schema import execute_graphql
from app.demo.state import (
    _ABOUT_HTML,
    _HTML_HEADERS,
    MAX_SLOW_MS,
    MAX_USERS,
    STATIC_DIR,
    DemoState,
    Detail,
    ErrorBody,
    FlakyResult,
    Health,
    OAuthError,
    SearchResult,
    SecureResult,
    SlowResult,
    TokenResponse,
    UserCreate,
    UserEnvelope,
    UserList,
    _basic_credentials,
    _eq,
    _oauth_error,
    flaky_fails,
)

TOKEN_REQUEST: dict[str, Any] = {
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
}
GRAPHQL_RESPONSES: dict[int | str, dict[str, Any]] = {
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
}
GRAPHQL_REQUEST: dict[str, Any] = {
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
}


@dataclass(frozen=True)
class Credentials:
    """What the demo accepts, as bytes for constant-time comparison."""

    static_token: bytes
    basic_user: bytes
    basic_pass: bytes
    api_key: bytes
    api_key_header: str
    client_id: bytes
    client_secret: bytes
    token_ttl_s: int


def add_control_and_pages(app: FastAPI, state: DemoState) -> None:
    index_html = (STATIC_DIR / "index.html").read_bytes()
    about_html = _ABOUT_HTML.encode("utf-8")

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


def add_users(app: FastAPI, state: DemoState) -> None:
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


def add_chaos(app: FastAPI, state: DemoState, *, slow_ms: int, error_rate: float) -> None:
    # ---- latency / failure injection ----------------------------------------

    @app.get("/api/slow", tags=["chaos"], operation_id="getSlow", summary="Respond after a fixed delay")
    async def slow(
        ms: int | None = Query(None, ge=0, description=f"Delay in ms (default {slow_ms}, capped at {MAX_SLOW_MS})."),
    ) -> SlowResult:
        delay = min(slow_ms if ms is None else ms, limits.MAX_SLOW_MS)  # read per call: tests lower the cap
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


def add_secure(app: FastAPI, state: DemoState, creds: Credentials) -> None:
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
                    if _eq(token, creds.static_token):
                        return "bearer"
                    if state.token_valid(token):
                        return "oauth"
            elif scheme == "basic":
                pair = _basic_credentials(authorization)
                if pair is not None and _eq(pair[0], creds.basic_user) & _eq(pair[1], creds.basic_pass):
                    return "basic"
        key = headers.get(creds.api_key_header)
        if key is not None and _eq(key, creds.api_key):
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


def add_token_endpoint(app: FastAPI, state: DemoState, creds: Credentials) -> None:
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
        openapi_extra=TOKEN_REQUEST,
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
        if not (_eq(cid, creds.client_id) & _eq(secret, creds.client_secret)):
            return _oauth_error(401, "invalid_client", "Invalid client or Invalid client credentials")
        if grant_type != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant_type!r}")
        lifetime = creds.token_ttl_s if ttl is None else max(1, ttl)
        token = secrets.token_urlsafe(32)
        state.add_token(token, time.monotonic() + lifetime)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return TokenResponse(access_token=token, expires_in=lifetime)


def add_graphql(app: FastAPI, state: DemoState) -> None:
    # ---- GraphQL ------------------------------------------------------------

    @app.post(
        "/graphql",
        tags=["graphql"],
        operation_id="graphql",
        summary="GraphQL endpoint (agents)",
        response_class=JSONResponse,
        responses=GRAPHQL_RESPONSES,
        openapi_extra=GRAPHQL_REQUEST,
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


def _bad_graphql(message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message}]}, status_code=400)
