"""The bundled demo API: Luna's demo target and test fixture.

Everything is in memory and single-process.  All endpoints are ``async def`` so
they run on the event loop (never in the threadpool); state is therefore only
touched from one thread and needs no locks. `state.py` holds the state, models and
helpers; `routes.py` the route groups this module assembles.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.demo import qa_page
from app.demo.routes import (
    Credentials,
    add_chaos,
    add_control_and_pages,
    add_graphql,
    add_secure,
    add_token_endpoint,
    add_users,
)
from app.demo.state import _SECURITY_SCHEMES, STATIC_DIR, DemoState, RequestCounterMiddleware

__all__ = ["DemoState", "RequestCounterMiddleware", "create_app", "serve"]


def _check_knobs(error_rate: float, slow_ms: int, token_ttl_s: int) -> None:
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError(f"error_rate must be within [0, 1], got {error_rate!r}")
    if slow_ms < 0:
        raise ValueError(f"slow_ms must be >= 0, got {slow_ms!r}")
    if token_ttl_s < 1:
        raise ValueError(f"token_ttl_s must be >= 1, got {token_ttl_s!r}")


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
    _check_knobs(error_rate, slow_ms, token_ttl_s)
    state = DemoState()
    creds = Credentials(
        static_token=static_token.encode("utf-8"),
        basic_user=basic_user.encode("utf-8"),
        basic_pass=basic_pass.encode("utf-8"),
        api_key=api_key.encode("utf-8"),
        api_key_header=api_key_header,
        client_id=client_id.encode("utf-8"),
        client_secret=client_secret.encode("utf-8"),
        token_ttl_s=token_ttl_s,
    )
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
    add_control_and_pages(app, state)  # control routes are not in the OpenAPI document, not counted
    add_users(app, state)
    add_chaos(app, state, slow_ms=slow_ms, error_rate=error_rate)
    add_secure(app, state, creds)
    add_token_endpoint(app, state, creds)
    add_graphql(app, state)

    def _openapi() -> dict[str, Any]:
        schema = FastAPI.openapi(app)
        schema.setdefault("components", {}).setdefault("securitySchemes", security_schemes)
        return schema

    app.openapi = _openapi  # type: ignore[method-assign]
    qa_page.register(app)  # GET /qa-lab: planted problems for visual QA (not in the OpenAPI document)
    return app


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
