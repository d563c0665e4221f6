"""``luna health`` and the REPL's `health` command: probe the target's health endpoint
(the first of HEALTH_PATHS that is not a 404 decides) and, for `luna health`, say which
Prefect API the CLI would use."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx
from rich.console import Console
from rich.markup import escape

from luna.settings import load_settings

HEALTH_PATHS = ("/api/health", "/health", "/healthz", "/")


@dataclass
class HealthResult:
    url: str
    ok: bool
    status: int | None
    ms: float
    detail: str


def check_health(client: httpx.Client, target: str, *, timeout: float | None = None) -> HealthResult:
    """Probe the target: the first of HEALTH_PATHS that is not a 404 decides (< 400 = healthy)."""
    last: HealthResult | None = None
    for path in HEALTH_PATHS:
        url = urljoin(target.rstrip("/") + "/", path.lstrip("/"))
        started = time.perf_counter()
        try:
            response = client.get(url, timeout=timeout) if timeout is not None else client.get(url)
        except httpx.HTTPError as exc:
            ms = (time.perf_counter() - started) * 1000
            return HealthResult(url, False, None, ms, f"cannot connect: {type(exc).__name__}")
        ms = (time.perf_counter() - started) * 1000
        detail = ""
        if "json" in response.headers.get("content-type", ""):
            try:
                detail = json.dumps(response.json(), separators=(",", ":"))[:200]
            except ValueError:
                detail = ""
        last = HealthResult(url, response.status_code < 400, response.status_code, ms, detail)
        if response.status_code != 404:
            return last
    assert last is not None
    return last


def health_report(target: str | None, *, timeout: float = 5.0, console: Console | None = None) -> int:
    """`luna health`: the target, and the Prefect API the CLI would use. Exit 1 if the target is not healthy."""
    from app.operations import prefect_api

    settings = load_settings()
    console = console or Console()
    url = (target or settings.base_url).rstrip("/")
    with httpx.Client() as client:
        result = check_health(client, url, timeout=timeout)
    style = "green" if result.ok else "red"
    console.print(
        f"[{style}]{'ok ' if result.ok else '!! '}[/]target   {escape(result.url)}  "
        f"{result.status if result.status is not None else '-'}  {result.ms:.1f} ms  {escape(result.detail)}",
        soft_wrap=True,
        highlight=False,
    )
    api = prefect_api(settings.luna_prefect_port)
    if api:
        console.print(f"[green]ok [/]prefect  {escape(api)}", highlight=False)
    else:
        console.print(
            "[yellow]-- [/]prefect  no server running: flows use a temporary one (`luna up` starts one)",
            highlight=False,
        )
    return 0 if result.ok else 1
