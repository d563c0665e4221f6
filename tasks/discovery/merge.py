"""Many discoveries -> one endpoints file: deduplicated, names made unique and tag-safe,
default weights (reads 3, writes 1), destructive operations marked, what discovery found
recorded beside the endpoints. The result validates as a Catalog."""

from __future__ import annotations

import re
from typing import Any

from luna.catalog import Catalog, SLOs, parse_catalog
from luna.errors import LoaderError
from tasks.discovery.model import DiscoveredEndpoint, Discovery, no_api_warning

READ_WEIGHT = 3.0
WRITE_WEIGHT = 1.0


def _tag_safe(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("_.-")
    return (cleaned or "endpoint")[:90]


def soap_action(headers: dict[str, str]) -> str | None:
    """The SOAP operation a request names (SOAP 1.1 header, or SOAP 1.2 content-type
    parameter): SOAP operations share one URL and differ only by it."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "soapaction" in lowered:
        return lowered["soapaction"]
    match = re.search(r'action="([^"]*)"', lowered.get("content-type", ""))
    return match.group(1) if match else None


def discovery_note(discoveries: list[Discovery]) -> dict[str, Any]:
    """What the endpoints file records about its discovery: the sources, whether an API was
    found, and the servers the sources declare (information only, never a target)."""
    note: dict[str, Any] = {
        "sources": [d.source for d in discoveries],
        "api_found": all(d.api_found for d in discoveries),
    }
    declared = list(dict.fromkeys(d.base_url for d in discoveries if d.base_url and d.kind != "url"))
    if declared:
        note["declared_servers"] = declared
    warning = no_api_warning(discoveries)
    if warning:
        note["warnings"] = [warning]
    return note


def _entry(ep: DiscoveredEndpoint, name: str, include_destructive: bool) -> dict[str, Any]:
    """One endpoints-file entry: default weight (reads 3, writes 1), the source's fields, marks."""
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
    if ep.needs_input:
        entry["needs_input"] = ep.needs_input
    return entry


def merge(
    discoveries: list[Discovery],
    *,
    service: str,
    include_destructive: bool = False,
    slos: SLOs | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    """The endpoints file's JSON (see merge_catalog)."""
    data, _ = merge_catalog(
        discoveries, service=service, include_destructive=include_destructive, slos=slos, target=target
    )
    return data


def merge_catalog(
    discoveries: list[Discovery],
    *,
    service: str,
    include_destructive: bool = False,
    slos: SLOs | None = None,
    target: str | None = None,
) -> tuple[dict[str, Any], Catalog]:
    """One endpoints file from several sources: deduplicated by (type, method, path, query,
    SOAP action), names made unique and tag-safe, default weights; destructive ones are kept
    and marked `"destructive": true` (load runs leave them out unless they include
    destructive operations), or written unmarked with include_destructive. `target` is the
    URL the user named (recorded: generated suites default to it). Returns the file's JSON
    (only the keys discovery sets) and the Catalog it validates as; sources that describe no
    endpoint at all raise a LoaderError that names them."""
    if not any(d.endpoints for d in discoveries):
        where = ", ".join(d.source for d in discoveries) or "no source"
        raise LoaderError(
            "invalid",
            "no endpoints found: the sources describe no operation, request or page",
            location=where,
            tip="check that this is the API's spec, collection or recording (an OpenAPI file needs paths), "
            "or pass the service's URL to probe it",
        )
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
            endpoints.append(_entry(ep, name, include_destructive))
    data: dict[str, Any] = {"service": service}
    if target:
        data["target"] = target.rstrip("/")
    data |= {"slos": (slos or SLOs()).model_dump(), "discovery": discovery_note(discoveries), "endpoints": endpoints}
    return data, parse_catalog(data, source="discovered endpoints")  # raises if a loader produced nonsense
