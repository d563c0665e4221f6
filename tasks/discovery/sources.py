"""Read a discovery source (a file or an http(s) URL), recognise its format, and hand it to
the matching loader. Remote reads stay on the source's own origin and are size-limited."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

from tasks.discovery.model import MAX_DOCUMENT_BYTES, Discovery, LoaderError, check_size

Kind = str


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def fetch_url(url: str, *, allowed_origin: str | None = None, timeout: float = 10.0) -> bytes:
    """GET a document; never follows a redirect to another origin; at most MAX_DOCUMENT_BYTES."""
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
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client, client.stream("GET", url) as response:
            if response.is_redirect:
                target = str(response.next_request.url) if response.next_request else ""
                return fetch_url(target, allowed_origin=allowed_origin or origin(url), timeout=timeout)
            response.raise_for_status()
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    check_size(body, url)
            return body
    except httpx.HTTPError as exc:
        raise LoaderError(
            "reference",
            f"cannot read {url} ({type(exc).__name__}: {exc})",
            location=url,
            tip="check the URL and that the service is running",
        ) from None


def detect(document: bytes, source: str) -> Kind:
    """openapi | postman | har, from the document's own markers."""
    try:
        text = document.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LoaderError("syntax", "not UTF-8 text", location=source, tip="save the file as UTF-8") from None
    try:
        data = json.loads(text)
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
    if isinstance(data, dict):
        if "openapi" in data or "swagger" in data:
            return "openapi"
        if isinstance(data.get("info"), dict) and "item" in data:
            return "postman"
        if isinstance(data.get("log"), dict):
            return "har"
    raise LoaderError(
        "format",
        "not an OpenAPI/Swagger spec, a Postman collection or a HAR file",
        location=source,
        tip="supported: OpenAPI 3.x, Swagger 2.0, Postman v2.0/v2.1, HAR 1.2",
    )


def load_source(source: str, *, postman_environment: str | None = None) -> Discovery:
    """One source -> Discovery (raises LoaderError)."""
    remote = urlsplit(source).scheme in ("http", "https")
    if remote:
        document = fetch_url(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise LoaderError("format", f"{source} does not exist", location=source, tip="pass a file path or URL")
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise LoaderError(
                "too_large",
                f"{path.stat().st_size} bytes is over the {MAX_DOCUMENT_BYTES} byte limit",
                location=source,
                tip="split the document",
            )
        document = path.read_bytes()
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
    from tasks.discovery.har import from_har

    return from_har(document, source=source)
