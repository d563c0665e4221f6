"""The one URL model of the code base: every URL a user names goes through :func:`web_url`.

A URL is parsed once, checked, and re-serialised; every runner (k6, httpx, Playwright,
Lighthouse, the webhook gateway) then gets that same string, so no two parsers can
disagree about the host. Rejected outright:

- control characters anywhere (C0 incl. CR/LF/TAB, DEL, C1) and inner whitespace;
- backslashes (Python reads ``http://a\\@b/`` as host ``b``, browsers as host ``a``);
- userinfo (``user:pass@``): credentials never travel in a target URL;
- a scheme other than http(s), no host, a bad port, a host with characters outside
  letters, digits, ``.``, ``-`` and ``_`` (IPv6 in brackets allowed);
- a URL whose re-serialised form does not parse back to the same origin, or that httpx's
  parser (the WHATWG-style one the runners use) reads with another host.

:func:`origin` / :func:`same_origin` are the one definition of "the origin the user
named", used wherever credentials are attached.
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import httpx

CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")
HOST = re.compile(r"[a-z0-9_.-]+")
DEFAULT_PORTS = {"http": 80, "https": 443}


class UrlRejected(ValueError):
    """Why a URL was refused, in one line (pydantic validators show it as the message)."""


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = DEFAULT_PORTS.get(self.scheme) == self.port
        return f"{self.scheme}://{host}" if default else f"{self.scheme}://{host}:{self.port}"


def _parse(text: str, schemes: tuple[str, ...]) -> tuple[str, Origin]:
    if not isinstance(text, str) or not text.strip():
        raise UrlRejected("empty URL")
    text = text.strip(" ")
    try:
        parts = urlsplit(text)
    except ValueError:
        raise UrlRejected("cannot be parsed") from None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise UrlRejected(f"scheme must be {' or '.join(schemes)}, not {parts.scheme or '(none)'!r}")
    if CONTROL.search(text):
        raise UrlRejected("contains a control character or whitespace")
    if "\\" in text:
        raise UrlRejected("contains a backslash")
    if "@" in parts.netloc:
        raise UrlRejected("contains user info (user:password@); put credentials in the auth settings")
    try:
        port = parts.port
    except ValueError:
        raise UrlRejected("has an invalid port") from None
    host = (parts.hostname or "").lower()
    if not host:
        raise UrlRejected("has no host")
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UrlRejected("has an invalid IPv6 host") from None
    elif not HOST.fullmatch(host):
        raise UrlRejected(f"has an invalid host {host[:60]!r}")
    where = Origin(scheme, host, port or DEFAULT_PORTS[scheme])
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    serialised = urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))
    if _origin_of(serialised) != where or _httpx_origin(serialised) != where:
        raise UrlRejected("is ambiguous (parsers disagree about its host)")
    return serialised, where


def _origin_of(url: str) -> Origin:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return Origin(scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0))


def _httpx_origin(url: str) -> Origin | None:
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return None
    return Origin(u.scheme, u.host.lower(), u.port or DEFAULT_PORTS.get(u.scheme, 0))


def web_url(text: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """`text` checked and re-serialised (scheme and host lower-cased), or :class:`UrlRejected`."""
    return _parse(text, schemes)[0]


def web_target(text: str) -> str:
    """A target base URL: :func:`web_url` without a trailing slash (paths are appended)."""
    return web_url(text).rstrip("/")


def origin(url: str) -> Origin:
    """The origin (scheme, host, effective port) of a URL that passed :func:`web_url`."""
    return _parse(url, ("http", "https"))[1]


def same_origin(url: str, named: str) -> bool:
    """True when `url` is on the origin of `named` (the target the user gave). A URL that
    does not pass the validator is never the same origin."""
    try:
        return origin(url) == origin(named)
    except UrlRejected:
        return False


def is_loopback(url: str) -> bool:
    """True for a valid URL whose host is localhost or a loopback address."""
    try:
        host = origin(url).host
    except UrlRejected:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redact(url: str) -> str:
    """The URL without user info, query or fragment, fit for logs and reports."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    try:
        if parts.port:
            netloc += f":{parts.port}"
    except ValueError:
        return "(invalid URL)"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# ---- the target allow-list (LUNA_ALLOWED_TARGETS), shared by the MCP tools and the gateway

LOOPBACK = "loopback"


def allow_list(text: str | None) -> tuple[str, ...] | None:
    """Parse ``LUNA_ALLOWED_TARGETS``: comma-separated entries, each ``loopback`` (any
    loopback host), an origin (``https://staging.example.com:8443``) or a bare host name
    (any scheme and port). None when unset; :class:`UrlRejected` for a bad entry."""
    if text is None or not text.strip():
        return None
    entries = []
    for raw in text.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == LOOPBACK or HOST.fullmatch(entry):
            entries.append(entry)
        elif "://" in entry:
            entries.append(str(origin(entry)))
        else:
            raise UrlRejected(f"entry {entry[:60]!r} is not 'loopback', an origin or a host name")
    return tuple(entries)


def allowed_by(url: str, entries: tuple[str, ...]) -> bool:
    """True when the (valid) `url` matches one entry of a parsed allow-list."""
    try:
        where = origin(url)
    except UrlRejected:
        return False
    for entry in entries:
        if entry == LOOPBACK and is_loopback(url):
            return True
        if "://" in entry and str(where) == entry:
            return True
        if "://" not in entry and entry != LOOPBACK and where.host == entry:
            return True
    return False


def require_allowed(url: str, entries: tuple[str, ...], what: str = "target") -> str:
    """`url` re-serialised when it is valid and on the allow-list, else a one-line
    :class:`~luna.errors.ConfigError` naming LUNA_ALLOWED_TARGETS."""
    from luna.errors import ConfigError
    from luna.text import printable

    try:
        checked = web_url(url)
    except UrlRejected as exc:
        raise ConfigError(f"{what} {printable(url)[:100]!r} is not a usable http(s) URL: {exc}") from None
    if not allowed_by(checked, entries):
        raise ConfigError(
            f"{what} {redact(checked)!r} is not in LUNA_ALLOWED_TARGETS ({', '.join(entries)})",
            tip="add its origin to LUNA_ALLOWED_TARGETS (comma-separated; unset = loopback only)",
        )
    return checked
