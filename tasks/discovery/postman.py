"""Postman collections v2.0 and v2.1 (plus an optional environment export) -> Discovery.

Every request becomes one endpoint, grouped by its folder path. `{{variables}}` come from
the collection's `variable` list and the environment's enabled `values` (the environment
wins); unresolved ones stay in place and are reported. The URL's host part is dropped
(Luna appends the path to BASE_URL) and the first resolved base becomes `base_url`. Auth
(own or inherited) is reported as the Luna auth settings to use; its secrets, and any
header or query parameter that looks like a credential, are never copied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from tasks.discovery.model import DiscoveredEndpoint, Discovery, LoaderError, check_size

_SCHEMAS = ("v2.0.0", "v2.1.0")
_VAR = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
PLACEHOLDER = re.compile(r"<(string|integer|long|number|float|double|boolean|date|dateTime|uuid|email|uri|byte)>")
PLACEHOLDER_SAMPLES = {"string": "string", "boolean": "true", "date": "2024-01-01", "datetime": "2024-01-01T00:00:00Z"}
SECRET_NAME = re.compile(r"token|secret|session|auth|passw|cookie|api[-_]?key|^key$", re.I)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
MAX_DEPTH = 64
_AUTH_HINTS = {
    "bearer": "bearer auth: set AUTH_TOKEN (Luna sends 'Authorization: Bearer <token>')",
    "basic": "basic auth: set AUTH_BASIC_USER and AUTH_BASIC_PASS",
    "apikey": "API key auth: set AUTH_API_KEY and AUTH_API_KEY_HEADER",
    "oauth2": "OAuth2 auth: set the Keycloak settings AUTH_HOST, AUTH_REALM, AUTH_CLIENT_ID, AUTH_CLIENT_SECRET",
}
T = TypeVar("T")


def load_json(document: bytes | str, source: str, what: str) -> Any:
    """Parse a JSON document or raise LoaderError('syntax'|'too_large')."""
    check_size(document, source)
    try:
        text = document.decode("utf-8-sig") if isinstance(document, bytes) else document
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise LoaderError("syntax", f"not UTF-8 text ({exc.reason})", location=source, tip="save as UTF-8") from None
    except json.JSONDecodeError as exc:
        where = f"{source}:{exc.lineno}:{exc.colno}"
        raise LoaderError(
            "syntax", f"not valid JSON: {exc.msg}", location=where, tip=f"export the {what} again"
        ) from None
    except (RecursionError, ValueError) as exc:
        raise LoaderError("syntax", f"not valid JSON: {exc}", location=source, tip=f"export the {what} again") from None


def guarded(where: Callable[[], str], work: Callable[[], T]) -> T:
    """Run `work`, turning stray lookup/type errors into LoaderError('invalid')."""
    try:
        return work()
    except LoaderError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError, IndexError, RecursionError) as exc:
        raise LoaderError(
            "invalid", f"unexpected structure ({type(exc).__name__}: {exc})", location=where(), tip="export it again"
        ) from None


def scrub_query(query: str) -> tuple[str, bool]:
    """Drop credential-looking query parameters; returns (query, dropped_any)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not SECRET_NAME.search(k)]
    return urlencode(kept, safe="{}:/,"), len(kept) != len(pairs)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


class _Loader:
    def __init__(self, source: str, variables: dict[str, str]) -> None:
        self.source = source
        self.variables = variables
        self.where = source
        self.warnings: list[str] = []
        self.base_url: str | None = None
        self.endpoints: list[DiscoveredEndpoint] = []

    def fail(self, message: str) -> NoReturn:
        raise LoaderError("invalid", message, location=self.where, tip="export the collection again from Postman")

    def resolve(self, text: str) -> str:
        for _ in range(5):  # variables may refer to variables
            new = _VAR.sub(lambda m: self.variables.get(m.group(1), m.group(0)), text)
            if new == text:
                break
            text = new
        for name in _VAR.findall(text):
            self.warnings.append(f"variable {{{{{name}}}}} is not defined; it was left in place")
        return text

    def walk(self, items: Any, pointer: str, folders: list[str], auth: Any, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.where = f"{self.source}#{pointer}"
            self.fail("folders nested too deeply")
        if not isinstance(items, list):
            self.where = f"{self.source}#{pointer}"
            self.fail("'item' is not a list")
        for i, item in enumerate(items):
            here = f"{pointer}/{i}"
            self.where = f"{self.source}#{here}"
            if not isinstance(item, dict):
                self.fail("an item is not an object")
            own_auth = item.get("auth")
            item_auth = auth if own_auth is None or _auth_type(own_auth) == "inherit" else own_auth
            name = _text(item.get("name")).strip()
            if "item" in item:
                self.walk(item["item"], f"{here}/item", [*folders, name or f"folder {i}"], item_auth, depth + 1)
            elif "request" in item:
                self.request(item, here, folders, item_auth)

    def request(self, item: dict[str, Any], pointer: str, folders: list[str], auth: Any) -> None:
        request = item["request"]
        if isinstance(request, str):
            request = {"url": request}
        if not isinstance(request, dict):
            self.fail("'request' is neither a URL nor an object")
        method = _text(request.get("method") or "GET").upper()
        label = _text(item.get("name")).strip() or f"{method} request"
        if method not in METHODS:
            self.warnings.append(f"request '{label}' left out: Luna endpoints do not send {method}")
            return
        auth = auth if request.get("auth") is None or _auth_type(request["auth"]) == "inherit" else request["auth"]
        kind = _auth_type(auth)
        secret_headers = {"authorization", "cookie"}
        if kind in _AUTH_HINTS:
            self.warnings.append(f"request '{label}' uses {_AUTH_HINTS[kind]}")
            if kind == "apikey":
                secret_headers.add(_text(_auth_field(auth, "key")).lower())
        elif kind not in ("", "noauth"):
            self.warnings.append(f"request '{label}' uses {kind} auth: no Luna auth mode fits; set AUTH_TOKEN")
        path = self.url(request.get("url"), label)
        headers = self.headers(request.get("header"), secret_headers, label)
        endpoint: dict[str, Any] = {"method": method, "path": path, "headers": headers}
        self.body(request.get("body"), endpoint, label)
        if endpoint.get("type") == "graphql" and not endpoint.get("query"):
            self.warnings.append(f"request '{label}' left out: its GraphQL query is empty")
            return
        codes = [r.get("code") for r in item.get("response") or [] if isinstance(r, dict)]
        status = next((c for c in codes if isinstance(c, int) and 200 <= c <= 299), None)
        self.endpoints.append(
            DiscoveredEndpoint(
                name=label,
                group="/".join(folders)[:100] or "default",
                checks={"status": status} if status is not None else {},
                destructive=method == "DELETE",
                source=f"{self.source}#{pointer}",
                **endpoint,
            )
        )

    def url(self, url: Any, label: str) -> str:
        if url is None:
            url = ""
        if isinstance(url, dict):
            raw = _text(url.get("raw"))
            if "path" in url:  # the structured form is authoritative when present
                path = url["path"]
                segments = path if isinstance(path, list) else [path]
                path_text = "/".join(_text(s.get("value") if isinstance(s, dict) else s) for s in segments)
                host = url.get("host")
                host_text = ".".join(_text(h) for h in host) if isinstance(host, list) else _text(host)
                scheme = f"{_text(url.get('protocol'))}://" if url.get("protocol") else ""
                port = f":{_text(url['port'])}" if url.get("port") else ""
                params = [q for q in url.get("query") or [] if isinstance(q, dict) and not q.get("disabled")]
                query_text = "&".join(
                    f"{_text(q.get('key'))}={_text(q.get('value'))}"
                    if q.get("value") is not None
                    else _text(q.get("key"))
                    for q in params
                )
                raw = f"{scheme}{host_text}{port}/{path_text.lstrip('/')}" + (f"?{query_text}" if query_text else "")
            for var in url.get("variable") or []:  # path variables, `:id`
                if isinstance(var, dict) and var.get("key") and var.get("value") is not None:
                    raw = re.sub(rf"(?<=/):{re.escape(_text(var['key']))}(?=/|\?|$)", _text(var["value"]), raw)
        elif isinstance(url, str):
            raw = url
        else:
            self.fail("'url' is neither a string nor an object")
        base, rest = self.split(raw.strip())
        if base and self.base_url is None and not _VAR.search(base):
            self.base_url = base.rstrip("/")
        path, _, query = rest.partition("?")
        path = "/" + path.lstrip("/")
        path, query = self.placeholders(path, query, label)
        if query:
            query, dropped = scrub_query(query)
            if dropped:
                self.warnings.append(f"request '{label}': credential-looking query parameters were left out")
        return f"{path}?{query}" if query else path

    def placeholders(self, path: str, query: str, label: str) -> tuple[str, str]:
        """Converters (openapi-to-postmanv2) write `<integer>`, `<string>` ... where the spec
        had no example: typed samples in the path; optional query parameters left out."""
        if not PLACEHOLDER.search(path) and not PLACEHOLDER.search(unquote(query)):
            return path, query
        path = PLACEHOLDER.sub(lambda m: PLACEHOLDER_SAMPLES.get(m.group(1).lower(), "1"), path)
        kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not PLACEHOLDER.fullmatch(v)]
        self.warnings.append(
            f"request '{label}': converter placeholders (<integer>, <string>, ...) replaced by samples in the path; "
            "query parameters without a value left out"
        )
        return path, urlencode(kept)

    def split(self, raw: str) -> tuple[str, str]:
        """(base, path-and-query): a leading `{{var}}` or scheme://host is the base."""
        lead = re.match(r"\{\{\s*([^{}]*?)\s*\}\}", raw)
        if lead:
            value = self.variables.get(lead.group(1))
            if value is None:
                self.warnings.append(f"variable {{{{{lead.group(1)}}}}} is not defined; the URL was read without it")
                return "", self.resolve(raw[lead.end() :])
            rest = self.resolve(raw[lead.end() :])
            resolved = self.resolve(value)
            if "://" in resolved:
                return resolved, rest
            base, more = self.split(resolved)  # e.g. host without scheme
            return base, more.rstrip("/") + rest if more != "/" else rest
        raw = self.resolve(raw)
        if "://" in raw:
            parts = urlsplit(raw)
            return f"{parts.scheme}://{parts.netloc}", parts.path + (f"?{parts.query}" if parts.query else "")
        head, sep, tail = raw.partition("/")
        if "." in head or ":" in head or head == "localhost":  # Postman allows a host without a scheme
            return "", sep + tail
        return "", raw

    def headers(self, header: Any, secret: set[str], label: str) -> dict[str, str]:
        if isinstance(header, str):  # v2.0 allows "Key: value" lines
            header = [dict(zip(("key", "value"), line.split(":", 1), strict=False)) for line in header.splitlines()]
        result: dict[str, str] = {}
        for entry in header or []:
            if not isinstance(entry, dict) or entry.get("disabled") or not _text(entry.get("key")).strip():
                continue
            key = _text(entry["key"]).strip()
            if key.lower() in secret or SECRET_NAME.search(key):
                self.warnings.append(f"request '{label}': header {key} carries credentials and was left out")
                continue
            result[key] = self.resolve(_text(entry.get("value")).strip())
        return result

    def body(self, body: Any, endpoint: dict[str, Any], label: str) -> None:
        if not isinstance(body, dict) or body.get("disabled") or not body.get("mode"):
            return
        mode = body["mode"]
        headers: dict[str, str] = endpoint["headers"]
        has_type = any(k.lower() == "content-type" for k in headers)
        if mode == "raw":
            text = self.resolve(_text(body.get("raw")))
            if not text.strip():
                return
            try:
                endpoint["body"] = json.loads(text)
            except (ValueError, RecursionError):
                endpoint["body"] = text
                if not has_type:
                    language = _text(((body.get("options") or {}).get("raw") or {}).get("language"))
                    headers["Content-Type"] = {"xml": "application/xml", "json": "application/json"}.get(
                        language, "text/plain"
                    )
        elif mode == "urlencoded":
            fields = [f for f in body.get("urlencoded") or [] if isinstance(f, dict) and not f.get("disabled")]
            pairs = [(self.resolve(_text(f.get("key"))), self.resolve(_text(f.get("value")))) for f in fields]
            endpoint["body"] = urlencode(pairs)
            if not has_type:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif mode == "graphql":
            graphql = body.get("graphql") or {}
            endpoint["type"] = "graphql"
            endpoint["query"] = self.resolve(_text(graphql.get("query"))).strip() or None
            variables = graphql.get("variables")
            if isinstance(variables, str) and variables.strip():
                try:
                    variables = json.loads(self.resolve(variables))
                except (ValueError, RecursionError):
                    self.warnings.append(f"request '{label}': GraphQL variables are not valid JSON; left out")
                    variables = None
            endpoint["variables"] = variables if isinstance(variables, dict) and variables else None
        else:
            self.warnings.append(f"request '{label}' sends a {mode} body, which Luna cannot send; it was left out")


def _auth_type(auth: Any) -> str:
    return _text(auth.get("type")).lower() if isinstance(auth, dict) else ""


def _auth_field(auth: Any, key: str) -> Any:
    """A field of a v2.1 (list of key/value) or v2.0 (object) auth block."""
    block = auth.get(_auth_type(auth))
    if isinstance(block, list):
        return next((e.get("value") for e in block if isinstance(e, dict) and e.get("key") == key), None)
    return block.get(key) if isinstance(block, dict) else None


def _pairs(values: Any, *, enabled_key: str | None) -> Iterator[tuple[str, str]]:
    for entry in values if isinstance(values, list) else []:
        if not isinstance(entry, dict) or entry.get("key") is None or entry.get("disabled"):
            continue
        if enabled_key and entry.get(enabled_key) is False:
            continue
        yield _text(entry["key"]), _text(entry.get("value"))


def from_postman(document: bytes | str, *, source: str, environment: bytes | str | None = None) -> Discovery:
    """Read a Postman collection (v2.0/v2.1) and, optionally, an environment export."""
    data = load_json(document, source, "collection")
    info = data.get("info") if isinstance(data, dict) else None
    schema = info.get("schema") if isinstance(info, dict) else None
    if not isinstance(schema, str) or not any(v in schema for v in _SCHEMAS):
        raise LoaderError(
            "format",
            "not a Postman collection v2.0 or v2.1 (info.schema names the version)",
            location=f"{source}#/info/schema",
            tip="export the collection as Collection v2.1 from Postman",
        )
    variables = dict(_pairs(data.get("variable"), enabled_key=None))
    if environment is not None:
        env_source = f"{source} (environment)"
        env = load_json(environment, env_source, "environment")
        if not isinstance(env, dict) or not isinstance(env.get("values", []), list):
            raise LoaderError("format", "not a Postman environment", location=env_source, tip="export it again")
        variables.update(_pairs(env.get("values"), enabled_key="enabled"))
    loader = _Loader(source, variables)

    def run() -> Discovery:
        loader.walk(data.get("item") or [], "/item", [], data.get("auth"), 0)
        title = _text(info.get("name")) if isinstance(info, dict) else ""
        return Discovery(
            source=source,
            kind="postman",
            title=title or None,
            base_url=loader.base_url,
            endpoints=loader.endpoints,
            warnings=list(dict.fromkeys(loader.warnings)),
        )

    return guarded(lambda: loader.where, run)
