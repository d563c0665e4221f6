"""Outgoing webhooks: targets, the signature, and delivery with bounded retries.

Plain functions, no Prefect: `tasks.py` wraps them; the payloads are built in
payloads.py (re-exported here). A delivery failure (connection refused, timeout, HTTP
4xx/5xx) is *returned* as a :class:`DeliveryResult` with ``ok=False``, never raised, so
a webhook that keeps failing cannot fail a run. A bad ``LUNA_WEBHOOK_URLS`` is a
:class:`~luna.errors.ConfigError`.

Neither the signing secret nor a URL's credentials (userinfo, query string, Slack's
path token) reach a result, an error text or a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from luna.errors import ConfigError, did_you_mean
from luna.urls import UrlRejected, web_url
from tasks.notify.payloads import EVENT, RunEvent, build_payload, run_event, slack_payload

__all__ = [
    "DeliveryResult",
    "WebhookTarget",
    "build_payload",
    "deliver_all",
    "parse_webhook_urls",
    "RunEvent",
    "run_event",
    "send_webhook",
    "sign",
    "slack_payload",
    "verify_signature",
]
USER_AGENT = "luna/0.1"
SIGNATURE_HEADER = "X-Luna-Signature"
EVENT_HEADER = "X-Luna-Event"
TIMEOUT_S = 10.0
SETTING = "LUNA_WEBHOOK_URLS"
URLS_TIP = "use a comma-separated list of http(s) URLs; prefix an entry with slack+ for Slack's format, e.g. slack+https://hooks.slack.com/services/T000/B000/XXXX"
# Failures worth another attempt: the receiver may be restarting or overloaded.
RETRY_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError)
TOKEN_SEGMENT = re.compile(r"(?=.*\d)[A-Za-z0-9_\-]{16,}")

log = logging.getLogger("luna.notify")


class WebhookTarget(BaseModel):
    """One configured receiver. `url` may carry credentials, so it is left out of repr."""

    model_config = ConfigDict(frozen=True)

    url: str = Field(repr=False, description="http(s) URL the payload is POSTed to.")
    format: Literal["json", "slack"] = Field("json", description="json = Luna's payload; slack = Block Kit message.")
    secret: SecretStr | None = Field(None, description="Signing secret for this target (default: LUNA_WEBHOOK_SECRET).")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            return web_url(value.strip())
        except UrlRejected as exc:
            raise ValueError(f"not a valid URL ({exc})") from None

    @property
    def masked_url(self) -> str:
        return mask_url(self.url, hide_path=self.format == "slack")


class DeliveryResult(BaseModel):
    """What happened to one webhook. `url` is masked; `error` is one line without secrets."""

    url: str = Field(description="The target URL with credentials masked.")
    ok: bool = Field(description="True when the receiver answered 2xx.")
    status: int | None = Field(None, description="Last HTTP status; None when no response came back.")
    attempts: int = Field(description="Requests sent, retries included.")
    error: str | None = Field(None, description="Why the last attempt failed, in one line.")
    duration_s: float = Field(0.0, description="Wall time across all attempts and waits.")


def mask_url(url: str, *, hide_path: bool = False) -> str:
    """`url` without userinfo, query values or fragment; token-like path segments become ***.

    With ``hide_path`` everything after the first path segment is masked (Slack's
    ``/services/T.../B.../token`` path *is* the credential).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(invalid URL)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = ("***@" if parts.username or parts.password else "") + host + (f":{port}" if port else "")
    segments = parts.path.split("/")
    if hide_path:
        named = [s for s in segments if s]
        path = f"/{named[0]}/***" if len(named) > 1 else parts.path
    else:
        path = "/".join("***" if TOKEN_SEGMENT.fullmatch(s) else s for s in segments)
    query = "&".join(f"{pair.split('=', 1)[0]}=***" for pair in parts.query.split("&") if pair) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def parse_webhook_urls(value: str | None) -> list[WebhookTarget]:
    """Targets from ``LUNA_WEBHOOK_URLS``: comma-separated; ``slack+https://...`` = Slack format."""
    targets: list[WebhookTarget] = []
    seen: set[tuple[str, str]] = set()
    for index, raw in enumerate((value or "").split(","), start=1):
        entry = raw.strip()
        if not entry:
            continue
        fmt: Literal["json", "slack"] = "json"
        url = entry
        scheme = entry.split("://", 1)[0].lower() if "://" in entry else ""
        if scheme.startswith("slack+"):
            fmt, url = "slack", entry[len("slack+") :]
        elif "+" in scheme:
            prefix = scheme.split("+", 1)[0]
            hint = did_you_mean(prefix, ["slack"]) or "the only prefix is slack+"
            raise ConfigError(f"{SETTING}: entry {index} has an unknown prefix '{prefix}+'", tip=hint)
        try:
            target = WebhookTarget(url=url, format=fmt)
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
            shown = mask_url(url)
            raise ConfigError(f"{SETTING}: entry {index} ({shown}) is not usable: {reason}", tip=URLS_TIP) from None
        if (target.url, target.format) not in seen:
            seen.add((target.url, target.format))
            targets.append(target)
    return targets


# ---- signature and delivery --------------------------------------------------------------


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`` (Stripe style: the timestamp
    is signed too, so a receiver can reject replays of old deliveries)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    body: bytes, header: str, secret: str, *, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """Receiver side: True when ``header`` signs ``body`` with ``secret`` and is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(body, secret, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def backoff_delay(
    attempt: int,
    base_delay: float,
    max_delay: float,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Wait before attempt ``attempt + 1``: Retry-After if given, else exponential with
    jitter in [d/2, d] where d = base_delay * 2**(attempt-1); never above max_delay."""
    if retry_after is not None:
        return min(max_delay, retry_after)
    ceiling = min(max_delay, base_delay * 2 ** (attempt - 1))
    return ceiling / 2 + rand() * ceiling / 2


def _one_line(text: str, *, hide: Sequence[str]) -> str:
    for value in hide:
        if value:
            text = text.replace(value, "***")
    return " ".join(text.split())[:300]


def send_webhook(
    target: WebhookTarget,
    payload: Mapping[str, Any],
    *,
    secret: SecretStr | str | None = None,
    client: httpx.Client,
    attempts: int = 4,
    base_delay: float = 0.5,
    max_delay: float = 8.0,
    sleep: Callable[[float], None] = time.sleep,
    timeout_s: float = TIMEOUT_S,
    event: str = EVENT,
) -> DeliveryResult:
    """POST ``payload`` to ``target``; retry connection errors, timeouts, 429 and 5xx.

    Never raises for a delivery failure: the outcome is in the returned result.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    key = target.secret or secret
    plain_key = key.get_secret_value() if isinstance(key, SecretStr) else key
    body = json.dumps(payload, separators=(",", ":"), default=str).encode("utf-8")
    parts = urlsplit(target.url)
    hide = [target.url, plain_key or "", parts.password or "", parts.query]
    if target.format == "slack":
        hide.append(parts.path)
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    attempt = 0
    for attempt in range(1, attempts + 1):
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, EVENT_HEADER: event}
        if plain_key:
            headers[SIGNATURE_HEADER] = sign(body, plain_key, int(time.time()))
        status, retry, wait, error = _attempt(client, target.url, body, headers, timeout_s, hide)
        if error is None:
            return DeliveryResult(
                url=target.masked_url,
                ok=True,
                status=status,
                attempts=attempt,
                duration_s=round(time.monotonic() - started, 3),
            )
        if not retry or attempt == attempts:
            break
        delay = backoff_delay(attempt, base_delay, max_delay, wait)
        log.debug("webhook %s: attempt %d failed (%s); retrying in %.2f s", target.masked_url, attempt, error, delay)
        sleep(delay)
    return DeliveryResult(
        url=target.masked_url,
        ok=False,
        status=status,
        attempts=attempt,
        error=error,
        duration_s=round(time.monotonic() - started, 3),
    )


def _attempt(
    client: httpx.Client, url: str, body: bytes, headers: dict[str, str], timeout_s: float, hide: list[str]
) -> tuple[int | None, bool, float | None, str | None]:
    """One POST: (status, worth a retry, Retry-After seconds, error line or None when delivered)."""
    try:
        response = client.post(url, content=body, headers=headers, timeout=timeout_s)
    except RETRY_ERRORS as exc:
        return None, True, None, _one_line(f"{type(exc).__name__}: {exc}".rstrip(": "), hide=hide)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return None, False, None, _one_line(f"{type(exc).__name__}: {exc}".rstrip(": "), hide=hide)
    status = response.status_code
    if 200 <= status < 300:
        return status, False, None, None
    wait = _retry_after(response.headers.get("Retry-After"))
    snippet = response.text[:120] if 400 <= status < 500 else ""
    error = _one_line(f"HTTP {status} {response.reason_phrase} {snippet}".strip(), hide=hide)
    return status, status == 429 or status >= 500, wait, error


def deliver_all(
    targets: Sequence[WebhookTarget],
    run: RunEvent,
    secret: SecretStr | str | None = None,
    *,
    client: httpx.Client | None = None,
    **retry: Any,
) -> list[DeliveryResult]:
    """Send ``run`` to every target in its format, one after another; one result each.

    ``retry`` passes attempts/base_delay/max_delay/sleep/timeout_s through to :func:`send_webhook`.
    """
    if not targets:
        return []
    payloads = {"json": build_payload(run), "slack": slack_payload(run)}
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT_S, follow_redirects=False)
    try:
        return [send_webhook(t, payloads[t.format], secret=secret, client=http, **retry) for t in targets]
    finally:
        if own:
            http.close()
