"""From an endpoints file and/or discovery sources to a :class:`SuiteSpec`.

- Endpoints come from the endpoints file when there is one, else from the merged sources
  (the same merge as `luna discover`, so names are unique and tag-safe).
- Response schemas and media types come from the sources (OpenAPI), matched to endpoints
  by method and path.
- Pages are the GET endpoints whose success response is ``text/html``, plus any given.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from luna.catalog import Catalog, Endpoint, SLOs
from luna.errors import LunaError
from luna.keys import slug as key_slug
from luna.text import printable
from luna.urls import UrlRejected, web_url
from tasks.discovery.merge import merge_catalog
from tasks.discovery.model import DiscoveredEndpoint, Discovery, DiscoveryLimits, LoaderError
from tasks.generation.model import Page, SuiteEndpoint, SuiteSpec
from tasks.generation.safe import GenerationError, file_slug

SPEC_PATHS = ("/openapi.json", "/swagger.json", "/openapi.yaml", "/v3/api-docs")


def discover_url(url: str, *, limits: DiscoveryLimits | None = None) -> tuple[Discovery, str]:
    """A live service: the URL itself when it is a spec, else its well-known spec paths.
    Returns the Discovery and the base URL to test: the URL the user gave (its root, or its
    origin when it named the spec itself), never the servers the spec declares."""
    from tasks.discovery.sources import load_source

    try:
        url = web_url(url)
    except UrlRejected as exc:
        raise GenerationError(
            f"--url {printable(url)[:100]!r} is not a usable http(s) URL: {exc}",
            tip="pass e.g. --url http://127.0.0.1:8787",
        ) from None
    parts = urlsplit(url)
    root = url.rstrip("/")
    tried: list[str] = []
    candidates = [url] + [root + p for p in SPEC_PATHS]
    last: LoaderError | None = None
    for candidate in candidates:
        try:
            found = load_source(candidate, limits=limits)
        except LoaderError as exc:
            tried.append(candidate)
            last = exc
            if "ConnectError" in exc.message:  # nothing listens there: no point probing further
                break
            continue
        # the spec's servers path is already in each endpoint's path: then the origin is the base
        at_origin = candidate == url or found.base_url is not None
        return found, f"{parts.scheme}://{parts.netloc}" if at_origin else root
    reason = last.message if last else "nothing found"
    raise GenerationError(
        f"no API description found at {url} (tried {', '.join(tried)}; last: {reason})",
        location=url,
        tip="pass the spec with --spec FILE_OR_URL, or an endpoints file with --config FILE",
    )


def _schema_index(discoveries: list[Discovery]) -> dict[tuple[str, str], DiscoveredEndpoint]:
    index: dict[tuple[str, str], DiscoveredEndpoint] = {}
    for d in discoveries:
        for ep in d.endpoints:
            for key in ((ep.method.upper(), ep.path), (ep.method.upper(), ep.path.split("?", 1)[0])):
                index.setdefault(key, ep)
    return index


def _discovered_catalog(
    discoveries: list[Discovery], base_url: str, service: str | None, include_destructive: bool
) -> Catalog:
    """The discoveries merged into a Catalog, named after the service, a spec title or the host."""
    if not discoveries:
        raise GenerationError("nothing to generate from", tip="pass --url URL, --config FILE or --spec SOURCE")
    name = service or next((d.title for d in discoveries if d.title), None) or urlsplit(base_url).netloc or "service"
    if not any(d.endpoints for d in discoveries):
        raise GenerationError(
            "the sources describe no endpoints", tip="check the spec, or pass an endpoints file with --config"
        )
    try:
        _, catalog = merge_catalog(discoveries, service=name, include_destructive=include_destructive, slos=SLOs())
    except LunaError as exc:
        raise GenerationError(
            f"the discovered endpoints are not usable: {exc.message}", tip="check the source"
        ) from None
    return catalog


def _suite_endpoint(
    ep: Endpoint, i: int, slos: SLOs, index: dict[tuple[str, str], DiscoveredEndpoint], data_root: Path | None
) -> tuple[SuiteEndpoint, DiscoveredEndpoint | None]:
    """One catalog endpoint as a suite endpoint (its data file found, its spec schemas joined),
    and the discovered endpoint it matches, if any."""
    method = ep.method or "GET"
    data_file = None
    if ep.data_file:
        found = (data_root / ep.data_file) if data_root else Path(ep.data_file)
        if not found.is_file():
            raise GenerationError(
                f"{ep.data_file} does not exist (looked for {found.resolve()})",
                location=f"endpoints/{i}/data_file",
                tip="data_file paths are relative to the endpoints file",
            )
        data_file = str(found.resolve())
    match = index.get((method, ep.path)) or index.get((method, ep.path.split("?", 1)[0]))
    effective = ep.effective_slos(slos)
    made = SuiteEndpoint(
        name=ep.name,
        group=ep.group,
        type=ep.type,
        method=method,
        path=ep.path,
        body=ep.body,
        query=ep.query,
        variables=ep.variables,
        headers=ep.headers,
        checks=ep.checks,
        data_file=data_file,
        weight=ep.weight,
        slos=effective,
        response_schema=match.response_schema if match else None,
        response_type=match.response_type if match else None,
    )
    return made, match


def _add_pages(found: list[Page], pages: list[str], slos: SLOs) -> None:
    """The pages the user named (--page PATH) after the text/html responses found."""
    known = {p.path for p in found}
    for path in pages:
        if not path.startswith("/"):
            raise GenerationError(
                f"page {path!r} does not start with '/'", tip="pass pages as paths, e.g. --page /about"
            )
        if path not in known:
            known.add(path)
            found.append(Page(name=f"page {path}", path=path, slos=slos))


def build_spec(
    *,
    catalog: Catalog | None,
    discoveries: list[Discovery],
    base_url: str,
    service: str | None = None,
    pages: list[str] | None = None,
    sources: list[str] | None = None,
    include_destructive: bool = False,
    data_root: Path | None = None,
) -> SuiteSpec:
    many = len(discoveries) > 1
    warnings = [f"{d.source}: {w}" if many else w for d in discoveries for w in d.warnings]
    if catalog is None:
        catalog = _discovered_catalog(discoveries, base_url, service, include_destructive)
    elif service:
        catalog = catalog.model_copy(update={"service": service})
    index = _schema_index(discoveries)
    endpoints: list[SuiteEndpoint] = []
    found_pages: list[Page] = []
    left_out = 0
    needs_input: list[str] = []
    for i, ep in enumerate(catalog.endpoints):
        if getattr(ep, "destructive", False) and not include_destructive:
            left_out += 1  # DELETEs, writes to a production-looking target: not without asking
            continue
        if ep.needs_input:
            needs_input.append(ep.name)  # discovery could not make its values (tasks/discovery/needs.py)
            continue
        suite_ep, match = _suite_endpoint(ep, i, catalog.slos, index, data_root)
        endpoints.append(suite_ep)
        method, effective = suite_ep.method, suite_ep.slos
        if method == "GET" and match is not None and (match.response_type or "").startswith("text/html"):
            found_pages.append(Page(name=ep.name, path=ep.path, slos=effective))
    if left_out:
        warnings.append(f"left out {left_out} destructive operations (--include-destructive keeps them)")
    if needs_input:
        warnings.append(
            f"left out {len(needs_input)} operations marked needs_input (give them real values and remove the "
            f"mark): {', '.join(needs_input[:8])}"
        )
    if not endpoints:
        raise GenerationError(
            "every endpoint is destructive" + (" or needs_input" if needs_input else "") + ": nothing to test",
            tip="pass --include-destructive to test them anyway",
        )
    _add_pages(found_pages, pages or [], catalog.slos)
    return SuiteSpec(
        service=catalog.service,
        slug=file_slug(key_slug(catalog.service)),
        base_url=base_url.rstrip("/"),
        sources=list(sources or [d.source for d in discoveries]),
        slos=catalog.slos,
        endpoints=endpoints,
        pages=found_pages,
        warnings=warnings,
    )
