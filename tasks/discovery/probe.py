"""Discovery from a bare URL: probe the well-known spec locations and GraphQL paths on the
target's origin, then follow same-origin links from its pages. Never leaves the origin
(redirects elsewhere are not followed) and stays within a request and time budget: at
most MAX_REQUESTS, each ending by REQUEST_DEADLINE_S of wall-clock time whatever the server
does (a server that drips a byte at a time included), the whole probe by TIME_BUDGET_S.

GraphQL is introspected at GRAPHQL_PATHS and at `/`; one schema served at several paths is
tested once, at the first path that served it (`/` when a server answers everywhere).
When nothing but pages is found, the Discovery says so (`api_found=False`): no API is
exercised, and `test-service` shows that as a warning.

What it finds goes through the regular loaders; the pages it crawls become GET endpoints
of the group `pages` (with `response_type` text/html, so the browser stages audit them).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx

from tasks.discovery.http import REQUEST_DEADLINE_S, Deadline, deadline_client
from tasks.discovery.model import DiscoveredEndpoint, Discovery, LoaderError, current_limits

SPEC_PATHS = (
    "/openapi.json",
    "/openapi.yaml",
    "/swagger.json",
    "/swagger.yaml",
    "/v3/api-docs",
    "/v2/api-docs",
    "/api-docs",
    "/api-docs.json",
    "/api/openapi.json",
    "/api/swagger.json",
    "/api/v1/openapi.json",
    "/swagger/v1/swagger.json",
    "/docs/openapi.json",
    "/apispec_1.json",
    "/spec.json",
    "/.well-known/openapi.json",
    "/.well-known/openapi.yaml",
    "/.well-known/api-catalog",
    "/?wsdl",
)
GRAPHQL_PATHS = ("/graphql", "/api/graphql", "/graphql/v1", "/gql", "/query")
GRAPHQL_PROBES = ("/", *GRAPHQL_PATHS)  # `/` first: a server that answers everywhere serves it there
MAX_REQUESTS = 80
MAX_PAGES = 30
TIME_BUDGET_S = 30.0
REQUEST_TIMEOUT_S = 5.0  # per socket read
SPEC_SUFFIXES = (".json", ".yaml", ".yml", "?wsdl", ".wsdl")


@dataclass
class Response:
    url: str
    status: int
    content_type: str
    body: bytes


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "link", "area"):
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


def page_links(html: bytes, base: str) -> list[str]:
    parser = _Links()
    with contextlib.suppress(AssertionError, ValueError):  # html.parser on pathological markup
        parser.feed(html.decode("utf-8", errors="replace"))
    return [urldefrag(urljoin(base, href))[0] for href in parser.links]


class Prober:
    """Same-origin HTTP with a request and time budget; never raises on an HTTP status.
    Each request ends by `request_deadline` seconds, the whole probe by `budget` seconds."""

    def __init__(
        self, origin: str, *, budget: float = TIME_BUDGET_S, request_deadline: float = REQUEST_DEADLINE_S
    ) -> None:
        self.origin = origin
        self.budget = budget
        self.deadline = time.monotonic() + budget
        self.clock = Deadline(request_deadline, outer=self.deadline)
        self.client: httpx.Client = deadline_client(self.clock, read_timeout=REQUEST_TIMEOUT_S)
        self.requests = 0
        self.answered = 0
        self.last_error = ""

    def exhausted(self) -> bool:
        return self.requests >= MAX_REQUESTS or self.timed_out()

    def timed_out(self) -> bool:
        return time.monotonic() > self.deadline

    def request(self, method: str, url: str, body: bytes | None = None, hops: int = 0) -> Response | None:
        if self.exhausted() or _origin(url) != self.origin:
            return None
        self.requests += 1
        self.last_error = ""
        self.clock.start()
        headers = {"Content-Type": "application/json", "Accept": "application/json"} if body is not None else {}
        limit = current_limits().max_bytes
        try:
            with self.client.stream(method, url, content=body, headers=headers) as response:
                if response.is_redirect and response.next_request is not None and hops < 5:
                    target = str(response.next_request.url)
                    if _origin(target) != self.origin:
                        return None  # a redirect off the origin is not followed
                    return self.request(method, target, body, hops + 1)
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > limit:
                        self.last_error = f"{url} is over the {limit} byte limit of LUNA_DISCOVERY_MAX_BYTES"
                        return None
                self.answered += 1
                return Response(url, response.status_code, response.headers.get("content-type", ""), bytes(data))
        except httpx.HTTPError as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            return None

    def close(self) -> None:
        self.client.close()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _catalog_links(body: bytes, base: str) -> list[str]:
    """RFC 9727 api-catalog (a linkset): its service-desc links."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []
    found: list[str] = []
    for entry in data.get("linkset", []) if isinstance(data, dict) else []:
        for link in entry.get("service-desc", []) if isinstance(entry, dict) else []:
            if isinstance(link, dict) and isinstance(link.get("href"), str):
                found.append(urljoin(base, link["href"]))
    return found


def from_url(
    url: str,
    *,
    load_document: Callable[[bytes, str], Discovery],
    prober: Prober | None = None,
) -> Discovery:
    """Probe a live service. `load_document(body, url)` is the regular format detection and
    loader dispatch (it raises LoaderError for what it does not recognise)."""
    origin = _origin(url)
    prober = prober or Prober(origin)
    found: list[Discovery] = []
    probed: list[str] = []
    seen_docs: set[str] = set()
    warnings: list[str] = []

    def try_document(doc_url: str) -> None:
        if doc_url in seen_docs or _origin(doc_url) != origin:
            return
        seen_docs.add(doc_url)
        response = prober.request("GET", doc_url)
        probed.append(doc_url)
        if response is None and prober.last_error:
            warnings.append(f"{doc_url}: no document ({prober.last_error})")
        if response is None or response.status != 200 or "html" in response.content_type:
            return
        if doc_url.endswith("/.well-known/api-catalog"):
            for link in _catalog_links(response.body, doc_url):
                try_document(link)
            return
        try:
            found.append(load_document(response.body, doc_url))
        except LoaderError as exc:
            if exc.loader_kind not in ("format", "syntax"):
                warnings.append(f"{doc_url}: {exc.one_line()}")

    try:
        if prober.request("GET", url) is None and prober.answered == 0:
            raise LoaderError(
                "reference",
                f"cannot reach {origin} ({prober.last_error or 'no answer'})",
                location=url,
                tip="check the URL and that the service is running",
            )
        for path in SPEC_PATHS:
            try_document(origin + path)
        graphql_paths = _probe_graphql(origin, prober, found, probed, warnings)
        pages = _crawl(url, origin, prober, try_document)
        found[:] = _one_spec_per_api(found, origin, prober, warnings)
    finally:
        prober.close()
    return _discovery(url, origin, prober, found, pages, len(probed), warnings, graphql_paths)


def _discovery(
    url: str,
    origin: str,
    prober: Prober,
    found: list[Discovery],
    pages: list[DiscoveredEndpoint],
    probed: int,
    warnings: list[str],
    graphql_paths: set[str],
) -> Discovery:
    """What the probe found as one Discovery: the specs' endpoints (introspected GraphQL
    replacing a spec's generic entry), then crawled pages; LoaderError when nothing."""
    endpoints = [
        ep
        for d in found
        for ep in d.endpoints
        # introspection gives real operations: drop a spec's generic entry for the same GraphQL path
        if not (d.kind != "graphql" and ep.type == "graphql" and ep.path.split("?")[0] in graphql_paths)
    ]
    known = {(ep.method, ep.path) for ep in endpoints}
    endpoints += [p for p in pages if ("GET", p.path) not in known]
    if not endpoints:
        stopped = f"; the probe's {prober.budget:g} s time budget ran out" if prober.timed_out() else ""
        raise LoaderError(
            "format",
            f"no API description found at {origin} ({prober.requests} requests, {len(pages)} pages crawled{stopped})",
            location=url,
            tip="pass the spec's own URL or file (OpenAPI, Postman, HAR, WSDL, GraphQL SDL)",
        )
    summary = ", ".join(f"{d.kind} at {d.source}" for d in found) or "no spec"
    warnings.insert(0, f"probed {probed} well-known locations: found {summary}; crawled {len(pages)} pages")
    warnings += [f"{d.source}: {w}" for d in found for w in d.warnings]
    discovery = Discovery(
        source=url,
        kind="url",
        title=next((d.title for d in found if d.title), None),
        base_url=origin,
        endpoints=endpoints,
        warnings=warnings,
        api_found=bool(found),
    )
    if not found:
        from tasks.discovery.model import no_api_warning

        discovery.warnings.insert(0, no_api_warning([discovery]) or "")
    return discovery


def _probe_graphql(
    origin: str, prober: Prober, found: list[Discovery], probed: list[str], warnings: list[str]
) -> set[str]:
    """Introspect every GraphQL probe path; one schema seen at several paths is kept once
    (at the first), and a warning names the other paths. Returns the paths that answered."""
    from tasks.discovery.graphql import from_graphql, introspection_body

    answered: set[str] = set()
    schemas: dict[str, tuple[str, list[str]]] = {}  # fingerprint -> (kept path, same schema at)
    for path in GRAPHQL_PROBES:
        response = prober.request("POST", origin + path, introspection_body())
        probed.append(f"POST {origin + path}")
        if response is None or response.status != 200 or b"__schema" not in response.body:
            continue
        try:
            discovery = from_graphql(response.body, source=origin + path, path=path)
        except LoaderError as exc:
            warnings.append(f"{origin + path}: {exc.one_line()}")
            continue
        answered.add(path)
        shape = json.dumps([(e.name, e.query, e.variables) for e in discovery.endpoints], sort_keys=True, default=str)
        fingerprint = hashlib.sha256(shape.encode()).hexdigest()
        if fingerprint in schemas:
            schemas[fingerprint][1].append(path)
            continue
        schemas[fingerprint] = (path, [])
        found.append(discovery)
    for kept, also in schemas.values():
        if also:
            warnings.append(f"the same GraphQL schema answers at {kept} and {', '.join(also)}: tested once, at {kept}")
    return answered


def _crawl(start: str, origin: str, prober: Prober, try_document: Callable[[str], None]) -> list[DiscoveredEndpoint]:
    """Breadth-first over same-origin HTML pages; spec-looking links are tried as documents."""
    queue, seen = [start], {start}
    pages: list[DiscoveredEndpoint] = []
    while queue and len(pages) < MAX_PAGES and not prober.exhausted():
        url = queue.pop(0)
        response = prober.request("GET", url)
        if response is None or response.status >= 400 or "html" not in response.content_type:
            continue
        parts = urlsplit(response.url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        pages.append(
            DiscoveredEndpoint(
                name=f"page {path}",
                group="pages",
                method="GET",
                path=path,
                checks={"status": 200},
                response_type="text/html",
                source=f"{url} (crawled)",
            )
        )
        for link in page_links(response.body, response.url):
            if _origin(link) != origin or link in seen:
                continue
            seen.add(link)
            if link.lower().endswith(SPEC_SUFFIXES):
                try_document(link)
            else:
                queue.append(link)
    return pages


def _probe_path(discovery: Discovery) -> str | None:
    """A GET of the spec with no path parameter (e.g. /api/health): asking it tells whether
    the spec's paths resolve on this server."""
    for ep in discovery.endpoints:
        template = ep.source.rsplit("#/paths/", 1)[-1]
        if ep.method == "GET" and "{" not in template and "?" not in ep.path and not ep.destructive:
            return ep.path
    return None


def _one_spec_per_api(found: list[Discovery], origin: str, prober: Prober, warnings: list[str]) -> list[Discovery]:
    """Two specs of the same API at two locations (Prefect serves its spec at /openapi.json
    without the /api prefix its paths need, and at /api/openapi.json with it): keep the one
    whose paths answer here, asked with one GET each; warn about the other."""
    specs = [d for d in found if d.kind in ("openapi", "swagger")]
    if len(specs) < 2:
        return found
    dropped: set[int] = set()
    for i, a in enumerate(specs):
        for b in specs[i + 1 :]:
            if id(a) in dropped or id(b) in dropped:
                continue
            names_a, names_b = {e.name for e in a.endpoints}, {e.name for e in b.endpoints}
            if len(names_a & names_b) * 2 < min(len(names_a), len(names_b)):
                continue  # two different APIs
            answers = {}
            for spec in (a, b):
                path = _probe_path(spec)
                response = prober.request("GET", origin + path) if path else None
                answers[id(spec)] = (path, response.status if response is not None else None)
            a_ok = answers[id(a)][1] not in (None, 404)
            b_ok = answers[id(b)][1] not in (None, 404)
            loser = b if a_ok or not b_ok else a
            winner = a if loser is b else b
            dropped.add(id(loser))
            path, status = answers[id(loser)]
            why = f" (GET {path} answered {status})" if path and status == 404 else ""
            warnings.append(f"{loser.source} describes the same API as {winner.source}: left out{why}")
    return [d for d in found if id(d) not in dropped]
