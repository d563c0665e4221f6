"""HAR 1.2 (browser or proxy recordings) -> Discovery.

Only same-origin API calls are kept: static assets (by response type or file extension),
HTML documents, CORS preflights and third-party hosts are left out. Paths are templated
(numeric ids, UUIDs and long hex ids become `{id}`, `{id2}`, ...) and identical
(method, template) calls become one endpoint: its `path` is the first concrete path seen
(Luna sends concrete paths), its name and `source` carry the template, its weight is how
often it was seen and `checks.status` the most common 2xx. GraphQL POSTs are kept apart
per query. Calls that failed in the recording (404 or 5xx) are left out, and a warning
names them. Cookies, credentials and browser/hop-by-hop headers are never stored.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any, NoReturn
from urllib.parse import urlencode, urlsplit

from tasks.discovery.model import DiscoveredEndpoint, Discovery, LoaderError
from tasks.discovery.postman import METHODS, SECRET_NAME, guarded, load_json, scrub_query

_STATIC_EXT = re.compile(
    r"\.(js|mjs|map|css|png|jpe?g|gif|webp|avif|svg|ico|bmp|woff2?|ttf|otf|eot|mp4|webm|mp3|wav|pdf|html?|txt)$",
    re.I,
)
_STATIC_MIME = re.compile(r"^(image|font|audio|video)/|css|javascript|ecmascript|text/html|font-", re.I)
_API_TYPES = ("document", "xhr", "fetch")
_DROP_HEADERS = {
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    "user-agent",
    "accept-encoding",
    "origin",
    "referer",
    "cookie",
    "authorization",
    "x-api-key",
    "if-none-match",
    "if-modified-since",
    "pragma",
    "cache-control",
    "dnt",
}
_ID = re.compile(
    r"^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|[0-9a-f]{24})$", re.I
)


def origin(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme.lower()}://{host}{port}"


def template(path: str) -> str:
    """`/users/123/orders/9f1c...` -> `/users/{id}/orders/{id2}`."""
    out, n = [], 0
    for segment in path.split("/"):
        if _ID.match(segment):
            n += 1
            segment = "{id}" if n == 1 else f"{{id{n}}}"
        out.append(segment)
    return "/".join(out)


def _group(path: str) -> str:
    for segment in path.strip("/").split("/"):
        if segment and segment.lower() not in ("api", "rest") and not re.fullmatch(r"v\d+(\.\d+)?", segment, re.I):
            return segment[:100] if "{" not in segment else "default"
    return "default"


def _is_page(entry: dict[str, Any], method: str) -> bool:
    """A navigation to an HTML page: kept (group `pages`), the browser stages audit it."""
    content = (entry.get("response") or {}).get("content") or {}
    html = str(content.get("mimeType") or "").lower().startswith("text/html")
    status = (entry.get("response") or {}).get("status")
    ok = isinstance(status, int) and 200 <= status < 300
    return method == "GET" and ok and (entry.get("_resourceType") == "document" or html)


def _failed_in_recording(entry: dict[str, Any]) -> bool:
    """A 404 or 5xx in the recording: replaying it measures an error, not the service."""
    status = (entry.get("response") or {}).get("status")
    return isinstance(status, int) and not isinstance(status, bool) and (status == 404 or 500 <= status <= 599)


def _is_static(entry: dict[str, Any], path: str) -> bool:
    content = (entry.get("response") or {}).get("content") or {}
    mime = str(content.get("mimeType") or "")
    kind = str(entry.get("_resourceType") or "")
    return bool(_STATIC_EXT.search(path) or _STATIC_MIME.search(mime)) or kind in (
        "stylesheet",
        "script",
        "image",
        "font",
        "media",
        "document",
        "manifest",
    )


class _Har:
    def __init__(self, source: str) -> None:
        self.source = source
        self.where = source
        self.warnings: list[str] = []

    def fail(self, message: str) -> NoReturn:
        raise LoaderError("invalid", message, location=self.where, tip="record and export the HAR again")

    def request(self, entry: Any) -> tuple[dict[str, Any], str, str]:
        if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
            self.fail("an entry has no 'request' object")
        request = entry["request"]
        method, url = request.get("method"), request.get("url")
        if not isinstance(method, str) or not isinstance(url, str) or "://" not in url:
            self.fail("an entry's request has no method or absolute url")
        return request, method.upper(), url

    def headers(self, request: dict[str, Any]) -> dict[str, str]:
        result: dict[str, str] = {}
        for header in request.get("headers") or []:
            if not isinstance(header, dict) or not isinstance(header.get("name"), str):
                continue
            name = header["name"].strip()
            lower = name.lower()
            if not name or lower.startswith((":", "sec-")) or lower in _DROP_HEADERS:
                if lower in ("cookie", "authorization", "x-api-key"):
                    self.warnings.append(f"{name} headers were left out: configure one of Luna's AUTH_* modes")
                continue
            if SECRET_NAME.search(name):
                self.warnings.append(f"header {name} carries credentials and was left out")
                continue
            result[name] = str(header.get("value") or "")
        return result

    def body(self, request: dict[str, Any], headers: dict[str, str]) -> Any:
        post = request.get("postData")
        if not isinstance(post, dict):
            return None
        mime = str(post.get("mimeType") or "")
        text = post.get("text")
        if not isinstance(text, str):
            params = [p for p in post.get("params") or [] if isinstance(p, dict) and "name" in p]
            if not params:
                return None
            text = urlencode([(str(p["name"]), str(p.get("value") or "")) for p in params])
        if "json" in mime.lower():
            try:
                return json.loads(text)
            except (ValueError, RecursionError):
                pass
        if mime and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = mime
        return text if text else None


def from_har(document: bytes | str, *, source: str, target_origin: str | None = None) -> Discovery:
    """Read a HAR 1.2 recording; keep the calls to `target_origin` (default: the origin of
    the first document/XHR entry)."""
    data = load_json(document, source, "HAR")
    log = data.get("log") if isinstance(data, dict) else None
    if not isinstance(log, dict) or not isinstance(log.get("entries"), list):
        raise LoaderError("format", "not a HAR file (no log.entries list)", location=source, tip="export as HAR")
    version = log.get("version", "1.2")
    if version not in ("1.1", "1.2"):
        raise LoaderError(
            "format", f"HAR version {version!r} is not supported", location=f"{source}#/log/version", tip="use HAR 1.2"
        )
    har = _Har(source)
    return guarded(lambda: har.where, lambda: _load(har, log["entries"], source, target_origin))


def _load(har: _Har, entries: list[Any], source: str, target: str | None) -> Discovery:
    parsed = []
    for i, entry in enumerate(entries):
        har.where = f"{source}#/log/entries/{i}"
        request, method, url = har.request(entry)
        parsed.append((i, entry, request, method, url))
    if target is None:
        firsts = [u for _, e, _, _, u in parsed if str(e.get("_resourceType") or "") in _API_TYPES]
        fallback = [u for _, e, _, _, u in parsed if not _is_static(e, urlsplit(u).path)]
        target = next(iter(firsts or fallback), None)
    wanted = origin(target) if target else None
    groups: dict[tuple[str, str, str | None], list[tuple[int, dict[str, Any], dict[str, Any], str]]] = {}
    skipped: Counter[str] = Counter()
    failed: list[str] = []
    for i, entry, request, method, url in parsed:
        har.where = f"{source}#/log/entries/{i}"
        parts = urlsplit(url)
        if origin(url) != wanted:
            skipped["third-party"] += 1
        elif _is_static(entry, parts.path) and not _is_page(entry, method):
            skipped["static"] += 1
        elif method not in METHODS or method == "OPTIONS":
            skipped["preflight/other"] += 1
        elif _failed_in_recording(entry):
            failed.append(f"{method} {parts.path or '/'} ({(entry.get('response') or {}).get('status')})")
        else:
            graphql = _graphql(request)
            key = (method, template(parts.path or "/"), graphql[0] if graphql else None)
            groups.setdefault(key, []).append((i, entry, request, parts.path or "/"))
    if skipped:
        summary = ", ".join(f"{n} {why}" for why, n in sorted(skipped.items()))
        har.warnings.append(f"left out {summary} entries (target origin {wanted})")
    if failed:
        shown = ", ".join(list(dict.fromkeys(failed))[:8]) + (", ..." if len(set(failed)) > 8 else "")
        har.warnings.append(
            f"left out {len(failed)} entries that failed in the recording (404 or 5xx): {shown}; "
            "they would fail the run, not measure it"
        )
    endpoints = [_endpoint(har, key, seen, source) for key, seen in groups.items()]
    return Discovery(
        source=source,
        kind="har",
        base_url=wanted,
        endpoints=endpoints,
        warnings=list(dict.fromkeys(har.warnings)),
    )


def _graphql(request: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None] | None:
    """(query, variables, operationName) of a GraphQL POST, else None."""
    post = request.get("postData")
    if not isinstance(post, dict) or not isinstance(post.get("text"), str):
        return None
    try:
        body = json.loads(post["text"])
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("query"), str) or not body["query"].strip():
        return None
    variables = body.get("variables")
    name = body.get("operationName")
    return (
        body["query"].strip(),
        variables if isinstance(variables, dict) else None,
        name if isinstance(name, str) else None,
    )


def _endpoint(
    har: _Har,
    key: tuple[str, str, str | None],
    seen: list[tuple[int, dict[str, Any], dict[str, Any], str]],
    source: str,
) -> DiscoveredEndpoint:
    method, shape, _ = key
    i, entry, request, path = seen[0]
    har.where = f"{source}#/log/entries/{i}"
    parts = urlsplit(request["url"])
    query, dropped = scrub_query(parts.query)
    if dropped:
        har.warnings.append(f"credential-looking query parameters of {shape} were left out")
    statuses = Counter(
        s for _, e, _, _ in seen if isinstance(s := (e.get("response") or {}).get("status"), int) and 200 <= s <= 299
    )
    headers = har.headers(request)
    fields: dict[str, Any] = {}
    graphql = _graphql(request)
    name = method + "_" + ("_".join(s.strip("{}") for s in shape.split("/") if s) or "root")
    if graphql:
        fields = {"type": "graphql", "query": graphql[0], "variables": graphql[1] or None}
        name = f"graphql_{graphql[2]}" if graphql[2] else f"{name}_graphql"
    else:
        fields = {"body": har.body(request, headers)}
    page = _is_page(entry, method)
    return DiscoveredEndpoint(
        name=name,
        group="graphql" if graphql else "pages" if page else _group(shape),
        response_type="text/html" if page else None,
        method=method,
        path=path + (f"?{query}" if query else ""),
        weight=float(len(seen)),
        headers=headers,
        checks={"status": statuses.most_common(1)[0][0]} if statuses else {},
        destructive=method == "DELETE",
        source=f"{source}#/log/entries/{i} (template {shape}, seen {len(seen)}x)",
        **fields,
    )
