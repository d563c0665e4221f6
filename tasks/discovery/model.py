"""What every discovery loader returns, the loader error, and the merge into an endpoints
file. Loaders share one naming scheme: `from_openapi`, `from_postman`, `from_har`, ...
each `(document: bytes | str, *, source: str, ...) -> Discovery`, raising LoaderError.

Loader error kinds (schemathesis-style): `syntax` (not JSON/YAML/XML), `format` (parsed,
but not this kind of document or an unsupported version), `invalid` (the document breaks
its own schema), `reference` (a $ref that cannot be resolved or leaves the allowed
origin), `too_large` (over the size limit), `unsafe` (XML bombs, external entities).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from luna.catalog import SLOs, parse_catalog
from luna.errors import LoaderError

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
READ_WEIGHT = 3.0
WRITE_WEIGHT = 1.0


class DiscoveredEndpoint(BaseModel):
    """One operation found in a source, in the endpoints file's terms."""

    name: str = Field(description="Readable unique-ish name; made unique and tag-safe on merge.")
    group: str = "default"
    type: Literal["rest", "graphql"] = "rest"
    method: str = "GET"
    path: str = Field(description="Path (with query string) appended to BASE_URL; starts with '/'.")
    weight: float | None = Field(None, description="None = reads weigh 3, writes 1.")
    body: Any = None
    query: str | None = None
    variables: dict[str, Any] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    checks: dict[str, Any] = Field(default_factory=dict)
    response_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema of the success response (specs only); generated API suites validate against it."
    )
    response_type: str | None = Field(None, description="Media type of the success response; text/html is a page.")
    destructive: bool = Field(False, description="DELETE, or a write against a production-looking target.")
    source: str = Field("", description="Where it was found, e.g. 'openapi.yaml#/paths/~1users/get'.")


class Discovery(BaseModel):
    """A loader's result: endpoints, plus warnings worth showing the user."""

    source: str
    kind: str = Field(description="openapi | swagger | postman | har | wsdl | graphql | url")
    title: str | None = None
    base_url: str | None = Field(None, description="Server URL the source declares, if any.")
    endpoints: list[DiscoveredEndpoint] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def check_size(document: bytes | str, source: str) -> None:
    size = len(document.encode() if isinstance(document, str) else document)
    if size > MAX_DOCUMENT_BYTES:
        raise LoaderError(
            "too_large",
            f"{size} bytes is over the {MAX_DOCUMENT_BYTES} byte limit",
            location=source,
            tip="split the document, or discover from a smaller export",
        )


def _tag_safe(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("_.-")
    return (cleaned or "endpoint")[:90]


NON_PRODUCTION_LABELS = frozenset(
    [
        "dev",
        "develop",
        "development",
        "test",
        "testing",
        "qa",
        "uat",
        "stage",
        "staging",
        "stg",
        "sandbox",
        "preview",
        "demo",
        "local",
        "localhost",
        "ci",
        "perf",
        "load",
        "mock",
        "example",
        "internal",
    ]
)
NON_PRODUCTION_SUFFIXES = (".local", ".localhost", ".test", ".example", ".invalid", ".internal", ".lan", ".home.arpa")


def production_looking(url: str | None) -> bool:
    """Does this target look like production? Loopback, private and link-local addresses,
    reserved names (.test, .local, ...) and hosts with a label such as dev, test, qa,
    staging, sandbox or preview do not; anything else does. Writes against a production-
    looking target are marked destructive."""
    if not url:
        return False
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        labels = set(re.split(r"[.\-]", host))
        return not (host.endswith(NON_PRODUCTION_SUFFIXES) or labels & NON_PRODUCTION_LABELS or "." not in host)
    return not (address.is_loopback or address.is_private or address.is_link_local or address.is_reserved)


def mark_production_writes(discoveries: list[Discovery], target: str | None = None) -> int:
    """Mark writes (POST/PUT/PATCH, GraphQL mutations) destructive when the target (or,
    without one, the source's own server URL) looks like production; returns how many."""
    marked = 0
    for discovery in discoveries:
        where = target or discovery.base_url
        if not production_looking(where):
            continue
        count = 0
        for ep in discovery.endpoints:
            write = ep.method.upper() in ("POST", "PUT", "PATCH") and not (
                ep.type == "graphql" and not (ep.query or "").lstrip().startswith("mutation")
            )
            if write and not ep.destructive:
                ep.destructive, count = True, count + 1
        if count:
            discovery.warnings.append(
                f"{where} looks like production: {count} write operations marked destructive "
                "(left out unless include_destructive)"
            )
        marked += count
    return marked


def soap_action(headers: dict[str, str]) -> str | None:
    """The SOAP operation a request names (SOAP 1.1 header, or SOAP 1.2 content-type
    parameter): SOAP operations share one URL and differ only by it."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "soapaction" in lowered:
        return lowered["soapaction"]
    match = re.search(r'action="([^"]*)"', lowered.get("content-type", ""))
    return match.group(1) if match else None


def merge(
    discoveries: list[Discovery], *, service: str, include_destructive: bool = False, slos: SLOs | None = None
) -> dict[str, Any]:
    """One endpoints file from several sources: deduplicated by (type, method, path, query,
    SOAP action),
    names made unique and tag-safe, default weights; destructive ones are kept and marked
    `"destructive": true` (load runs leave them out unless they include destructive
    operations), or written unmarked with include_destructive. The result validates as a
    Catalog."""
    seen: set[tuple[str, str, str, str | None, str | None]] = set()
    names: set[str] = set()
    endpoints: list[dict[str, Any]] = []
    for discovery in discoveries:
        for ep in discovery.endpoints:
            key = (ep.type, ep.method.upper(), ep.path, ep.query, soap_action(ep.headers))
            if key in seen:
                continue
            seen.add(key)
            name = base = _tag_safe(ep.name)
            n = 2
            while name in names:
                name, n = f"{base}_{n}", n + 1
            names.add(name)
            weight = (
                ep.weight
                if ep.weight is not None
                else (
                    READ_WEIGHT
                    if ep.method.upper() in ("GET", "HEAD")
                    or ep.type == "graphql"
                    and not (ep.query or "").lstrip().startswith("mutation")
                    else WRITE_WEIGHT
                )
            )
            entry: dict[str, Any] = {
                "name": name,
                "group": ep.group or "default",
                "type": ep.type,
                "method": ep.method.upper(),
                "path": ep.path,
                "weight": weight,
            }
            for field in ("body", "query", "variables"):
                if getattr(ep, field) is not None:
                    entry[field] = getattr(ep, field)
            if ep.headers:
                entry["headers"] = ep.headers
            if ep.checks:
                entry["checks"] = ep.checks
            if ep.destructive and not include_destructive:
                entry["destructive"] = True
            endpoints.append(entry)
    data = {"service": service, "slos": (slos or SLOs()).model_dump(), "endpoints": endpoints}
    parse_catalog(data, source="discovered endpoints")  # raises if a loader produced nonsense
    return data
