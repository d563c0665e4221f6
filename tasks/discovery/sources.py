"""Read a discovery source (a file or an http(s) URL), recognise its format, and hand it to
the matching loader. Remote reads stay on the source's own origin, are size-limited
(LUNA_DISCOVERY_MAX_BYTES) and end by a wall-clock deadline per request."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

from tasks.discovery.http import FETCH_DEADLINE_S, Deadline, deadline_client
from tasks.discovery.model import Discovery, DiscoveryLimits, LoaderError, current_limits, too_large

Kind = str


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def fetch_url(
    url: str, *, allowed_origin: str | None = None, timeout: float = 10.0, deadline: float = FETCH_DEADLINE_S
) -> bytes:
    """GET a document; never follows a redirect to another origin; at most
    LUNA_DISCOVERY_MAX_BYTES; done within `deadline` seconds of wall-clock time (a large
    spec on loopback takes well under a second), whatever pace the server sends at."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise LoaderError(
            "reference", f"{url} is not an http(s) URL", location=url, tip="use a file path or http(s) URL"
        )
    if allowed_origin is not None and origin(url) != allowed_origin:
        raise LoaderError(
            "reference",
            f"{url} is outside {allowed_origin}",
            location=url,
            tip="discovery only reads from the source's own origin",
        )
    limit = current_limits().max_bytes
    clock = Deadline(deadline)
    try:
        with deadline_client(clock, read_timeout=timeout) as client, client.stream("GET", url) as response:
            if response.is_redirect:
                target = str(response.next_request.url) if response.next_request else ""
                return fetch_url(target, allowed_origin=allowed_origin or origin(url), timeout=timeout)
            response.raise_for_status()
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise too_large(int(declared), url)
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise too_large(len(body), url)
            return bytes(body)
    except httpx.HTTPStatusError as exc:
        raise LoaderError(
            "reference",
            f"{url} answered HTTP {exc.response.status_code}",
            location=url,
            tip="check the URL; a bare base URL (http://host/) is probed for its spec",
        ) from None
    except httpx.TimeoutException as exc:
        raise LoaderError(
            "reference",
            f"{url} did not answer in time ({exc})",
            location=url,
            tip=f"check that the service is healthy; discovery gives each request {deadline:g} s of wall-clock time",
        ) from None
    except httpx.HTTPError as exc:
        raise LoaderError(
            "reference",
            f"cannot read {url} ({type(exc).__name__}: {exc})",
            location=url,
            tip="check the URL and that the service is running",
        ) from None


GRAPHQL_SUFFIXES = (".graphql", ".graphqls", ".gql")


def detect(document: bytes, source: str) -> Kind:
    """openapi | postman | har | wsdl | graphql | html, from the document's own markers."""
    try:
        text = document.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LoaderError("syntax", "not UTF-8 text", location=source, tip="save the file as UTF-8") from None
    head = text.lstrip()[:2048].lower()
    if head.startswith("<"):
        if "<html" in head or head.startswith("<!doctype html"):
            return "html"
        return "wsdl"  # XML: the WSDL loader says precisely what else it might be
    if urlsplit(source).path.lower().endswith(GRAPHQL_SUFFIXES):
        return "graphql"
    try:
        data = json.loads(text)
    except RecursionError:
        raise LoaderError("syntax", "JSON nested too deeply", location=source, tip="flatten the document") from None
    except json.JSONDecodeError:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise LoaderError(
                "syntax",
                f"neither JSON nor YAML ({type(exc).__name__})",
                location=source,
                tip="fix the document's syntax",
            ) from None
        except RecursionError:
            raise LoaderError("syntax", "YAML nested too deeply", location=source, tip="flatten the document") from None
    if isinstance(data, dict):
        if "openapi" in data or "swagger" in data:
            return "openapi"
        if isinstance(data.get("info"), dict) and "item" in data:
            return "postman"
        if isinstance(data.get("log"), dict):
            return "har"
        if "__schema" in data or (isinstance(data.get("data"), dict) and "__schema" in data["data"]):
            return "graphql"
    raise LoaderError(
        "format",
        "not an OpenAPI/Swagger spec, a Postman collection, a HAR file, a WSDL or a GraphQL schema",
        location=source,
        tip="supported: OpenAPI 3.x, Swagger 2.0, Postman v2.0/v2.1, HAR 1.2, WSDL 1.1, GraphQL SDL/introspection; "
        "or pass the service's base URL to probe it",
    )


def load_document(document: bytes, source: str, *, postman_environment: str | None = None) -> Discovery:
    """A document already read -> Discovery, by its detected format (raises LoaderError)."""
    remote = urlsplit(source).scheme in ("http", "https")
    kind = detect(document, source)
    if kind == "openapi":
        from tasks.discovery.openapi import from_openapi

        allowed = origin(source) if remote else None
        return from_openapi(
            document,
            source=source,
            allowed_origin=allowed,
            fetch=(lambda url: fetch_url(url, allowed_origin=allowed)) if remote else None,
        )
    if kind == "postman":
        from tasks.discovery.postman import from_postman

        env = Path(postman_environment).read_bytes() if postman_environment else None
        return from_postman(document, source=source, environment=env)
    if kind == "har":
        from tasks.discovery.har import from_har

        return from_har(document, source=source)
    if kind == "wsdl":
        from tasks.discovery.wsdl import from_wsdl

        return from_wsdl(document, source=source)
    if kind == "graphql":
        from tasks.discovery.graphql import from_graphql

        return from_graphql(document, source=source)
    raise LoaderError(
        "format", "an HTML page, not an API description", location=source, tip="pass the service's base URL to probe it"
    )


def load_source(
    source: str, *, postman_environment: str | None = None, limits: DiscoveryLimits | None = None
) -> Discovery:
    """One source -> Discovery (raises LoaderError), within `limits` (default: from the
    settings, LUNA_DISCOVERY_MAX_BYTES).

    A file is read and loaded by its format. A URL that serves a document is loaded the
    same way; a GraphQL endpoint is introspected; any other URL (a page, a 404) is probed
    as a live service on its origin.
    """
    with (limits or settings_limits()).active():
        if urlsplit(source).scheme in ("http", "https"):
            return _load_url(source, postman_environment)
        path = Path(source)
        if not path.is_file():
            raise LoaderError("format", f"{source} does not exist", location=source, tip="pass a file path or URL")
        size = path.stat().st_size
        if size > current_limits().max_bytes:
            raise too_large(size, source)
        return load_document(path.read_bytes(), source, postman_environment=postman_environment)


def settings_limits() -> DiscoveryLimits:
    """The discovery limits of the effective settings."""
    from luna.settings import load_settings

    return DiscoveryLimits(max_bytes=load_settings().luna_discovery_max_bytes)


def _load_url(source: str, postman_environment: str | None) -> Discovery:
    from tasks.discovery.probe import GRAPHQL_PATHS, Prober, from_url

    url_path = urlsplit(source).path.rstrip("/") or "/"
    if url_path in GRAPHQL_PATHS or url_path.endswith("/graphql"):
        from tasks.discovery.graphql import from_graphql, introspection_body

        prober = Prober(origin(source))
        try:
            response = prober.request("POST", source, introspection_body())
        finally:
            prober.close()
        if response is None or response.status != 200:
            raise LoaderError(
                "reference",
                f"GraphQL introspection at {source} failed"
                + (f" (HTTP {response.status})" if response is not None else " (no answer)"),
                location=source,
                tip="check the URL; if introspection is disabled in production, pass the schema's SDL file",
            )
        return from_graphql(response.body, source=source, path=url_path)
    if url_path == "/" and not urlsplit(source).query:
        return from_url(source, load_document=load_document)
    document = fetch_url(source)
    if detect_safe(document, source) == "html":
        return from_url(source, load_document=load_document)
    return load_document(document, source, postman_environment=postman_environment)


def detect_safe(document: bytes, source: str) -> Kind | None:
    try:
        return detect(document, source)
    except LoaderError:
        return None
