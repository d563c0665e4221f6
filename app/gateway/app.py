"""The gateway's HTTP app: ``POST /webhooks/{generic,github,gitlab}``, ``GET /healthz``.

Order of checks for every POST: source enabled (else 404) -> body size (413) -> signature
or token (401) -> JSON (400) -> mapping (422, or 200 "ignored") -> replay (409) -> emit
(202; 502 when Prefect cannot be reached, and the delivery id is released so a retry
works). Nothing is emitted before the signature is verified.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.gateway.emit import Emitter, emit_to_prefect
from app.gateway.events import Ignored, LunaEvent, from_generic, from_github, from_gitlab
from app.gateway.verify import Rejected, ReplayCache, verify_generic, verify_github, verify_gitlab
from luna.gateway_settings import GatewaySettings

log = logging.getLogger("app.gateway")
SOURCES = ("generic", "github", "gitlab")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or Rejected(413) as soon as it is known to exceed ``limit`` bytes."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise Rejected(413, f"body of {length} bytes is over the {limit}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(413, f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes, content_type: str) -> Any:
    """JSON body; GitHub's form-encoded variant carries it in the ``payload`` field."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            return json.loads(parse_qs(body.decode("utf-8")).get("payload", [""])[0])
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Rejected(400, "the body is not valid JSON") from None


def _secret(settings: GatewaySettings, source: str) -> str:
    value = {"generic": settings.generic_secret, "github": settings.github_secret, "gitlab": settings.gitlab_token}
    chosen = value[source]
    return chosen.get_secret_value() if chosen is not None else ""


def verified_event(
    settings: GatewaySettings,
    replays: ReplayCache,
    allowed: Any,
    source: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
) -> tuple[LunaEvent, str]:
    """The event of a delivery whose signature (or token) checks out, and its replay key;
    raises Rejected or Ignored."""
    secret = _secret(settings, source)
    ctype = headers.get("content-type", "")
    common: dict[str, Any] = {"default_target": settings.default_target, "allowed": allowed}
    delivery: str | None
    if source == "generic":
        nonce = verify_generic(
            body, headers.get("x-luna-signature"), secret, tolerance_s=settings.tolerance_seconds, now=now
        )
        delivery = headers.get("x-luna-delivery") or nonce[:32]
        event = from_generic(parse_json(body, ctype), delivery=delivery, **common)
        # The event id derives from the delivery id: a second, different delivery under
        # the same id would be dropped by Prefect as a duplicate, so it is refused here.
        if headers.get("x-luna-delivery") and not replays.claim(f"generic-delivery:{delivery}"):
            raise Rejected(409, "this X-Luna-Delivery id was already used; give each delivery its own id")
        return event, f"generic:{nonce}"
    if source == "github":
        verify_github(body, headers.get("x-hub-signature-256"), secret)
        delivery = headers.get("x-github-delivery")
        if not delivery:
            raise Rejected(400, "missing X-GitHub-Delivery header")
        event = from_github(headers.get("x-github-event"), parse_json(body, ctype), delivery=delivery, **common)
        return event, f"github:{delivery}"
    verify_gitlab(headers.get("x-gitlab-token"), secret)
    delivery = headers.get("x-gitlab-event-uuid") or headers.get("idempotency-key")
    key = f"gitlab:{delivery or hashlib.sha256(body).hexdigest()}"
    return from_gitlab(headers.get("x-gitlab-event"), parse_json(body, ctype), delivery=delivery, **common), key


def create_app(
    settings: GatewaySettings, emit: Emitter = emit_to_prefect, clock: Callable[[], float] = time.time
) -> FastAPI:
    """The gateway app. ``emit`` receives each accepted event (default: Prefect)."""
    app = FastAPI(title="Luna webhook gateway", docs_url=None, redoc_url=None, openapi_url=None)
    replays = ReplayCache(settings.replay_ttl_seconds)
    allowed = settings.allowed()
    enabled = settings.enabled_sources()

    async def receive(source: str, request: Request) -> JSONResponse:
        if source not in enabled:
            variable = "GITLAB_TOKEN" if source == "gitlab" else f"{source.upper()}_SECRET"
            return JSONResponse(
                {"accepted": False, "error": f"{source} webhooks are off: set LUNA_WEBHOOK_{variable}"}, 404
            )
        key = None
        try:
            body = await read_body(request, settings.max_body_bytes)
            event, key = verified_event(settings, replays, allowed, source, request.headers, body, clock())
            if not replays.claim(key):
                key = None  # not ours to release
                raise Rejected(409, "this delivery was already received (replay)")
            try:
                await emit(event)
            except Exception as exc:  # Prefect down or refusing: the sender should retry
                log.warning("webhook %s: could not emit %s: %s", source, event.event, type(exc).__name__)
                replays.release(key)
                if source == "generic":
                    replays.release(f"generic-delivery:{event.payload['delivery']}")
                return JSONResponse(
                    {"accepted": False, "error": "Prefect could not be reached; retry the delivery"}, 502
                )
        except Rejected as exc:
            log.info("webhook %s: rejected %s: %s", source, exc.status, exc.message)
            return JSONResponse({"accepted": False, "error": exc.message}, exc.status)
        except Ignored as exc:
            log.info("webhook %s: ignored: %s", source, exc)
            return JSONResponse({"accepted": False, "ignored": str(exc)}, 200)
        log.info("webhook %s: emitted %s for %s", source, event.event, event.payload["target"])
        return JSONResponse(
            {"accepted": True, "event": event.event, "id": str(event.id), "payload": event.payload}, 202
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "sources": enabled}

    @app.post("/webhooks/generic")
    async def generic(request: Request) -> JSONResponse:
        return await receive("generic", request)

    @app.post("/webhooks/github")
    async def github(request: Request) -> JSONResponse:
        return await receive("github", request)

    @app.post("/webhooks/gitlab")
    async def gitlab(request: Request) -> JSONResponse:
        return await receive("gitlab", request)

    return app


def serve(settings: GatewaySettings, *, host: str | None = None, port: int | None = None) -> None:
    """Run the gateway with uvicorn until interrupted."""
    import prefect.events.clients  # noqa: F401  # imported now, not on the first delivery (~2 s)
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings), host=host or settings.host, port=port or settings.port, log_level="info", access_log=False
    )


def run_gateway(host: str | None = None, port: int | None = None) -> int:
    """`luna webhook serve`: check the settings and the Prefect server, then serve."""
    import os
    import sys

    from app.operations import prefect_api
    from luna.errors import ConfigError
    from luna.gateway_settings import load_gateway_settings
    from luna.settings import load_settings

    settings = load_gateway_settings()
    prefect_port = load_settings().luna_prefect_port
    api = prefect_api(prefect_port)
    if not api:
        raise ConfigError(
            "the webhook gateway needs a running Prefect server to send events to",
            tip=f"set PREFECT_API_URL, or start one with `luna up` (port {prefect_port})",
        )
    os.environ["PREFECT_API_URL"] = api
    host, port = host or settings.host, port or settings.port
    print(
        f"Luna webhook gateway on http://{host}:{port}/webhooks/{{{','.join(settings.enabled_sources())}}} "
        f"-> Prefect {api}",
        file=sys.stderr,
    )
    serve(settings, host=host, port=port)
    return 0
