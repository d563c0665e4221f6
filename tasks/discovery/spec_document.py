"""An OpenAPI/Swagger document as data: parsing (JSON or YAML, YAML alias bombs refused),
lazy `$ref` resolution with cycle detection, a chain limit and an origin fence, and the Luna
auth settings that fit a security scheme, the version check and the declared server. Used
by `openapi.py`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import yaml

from tasks.discovery.model import LoaderError, check_size
from tasks.discovery.schema_sample import expanded_size

MAX_REF_CHAIN = 10_000  # $ref -> $ref -> ... links followed (iteratively) before giving up
MAX_REMOTE_DOCUMENTS = 50
MIN_ALIAS_BUDGET = 1_000_000  # values a YAML document may expand to through aliases (or its size in bytes)
_OPENAPI_VERSION = re.compile(r"^3\.[0-2](\.\d+)?(-[\w.]+)?$")


def escape_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def parse_document(document: bytes | str, source: str) -> Any:
    check_size(document, source)
    try:
        text = document.decode("utf-8-sig") if isinstance(document, bytes) else document
    except UnicodeDecodeError as exc:
        raise LoaderError(
            "syntax", f"not UTF-8 text ({exc.reason})", location=source, tip="save the spec as UTF-8"
        ) from None
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"{source}:{exc.lineno}:{exc.colno}"
            raise LoaderError(
                "syntax", f"not valid JSON: {exc.msg}", location=where, tip="fix the JSON syntax"
            ) from None
        except RecursionError:
            raise LoaderError("syntax", "JSON nested too deeply", location=source, tip="flatten the document") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise LoaderError(
            "syntax", f"not valid YAML or JSON: {problem}", location=where, tip="fix the syntax"
        ) from None
    except RecursionError:
        raise LoaderError("syntax", "YAML nested too deeply", location=source, tip="flatten the document") from None
    except ValueError as exc:
        raise LoaderError("syntax", f"not valid YAML: {exc}", location=source, tip="fix the syntax") from None
    limit = max(MIN_ALIAS_BUDGET, len(text))
    if expanded_size(data, limit) > limit:
        raise LoaderError(
            "unsafe",
            f"YAML aliases expand the document past {limit} values (an alias bomb, or an alias that contains itself)",
            location=source,
            tip="write the repeated parts out, or use $ref instead of YAML anchors",
        )
    return data


class Resolver:
    """Lazy $ref resolution with ref-chain cycle detection and an origin fence."""

    def __init__(self, root: Any, source: str, fetch: Callable[[str], bytes] | None, allowed: str | None) -> None:
        self.source = source
        self.base = source.split("#")[0]
        self.docs: dict[str, Any] = {self.base: root}
        self.fetch = fetch
        self.allowed = allowed.rstrip("/").lower() if allowed else None
        self.where = source

    def fail(self, message: str, tip: str) -> LoaderError:
        return LoaderError("reference", message, location=self.where, tip=tip)

    def deref(self, node: Any, base: str) -> tuple[Any, str, str | None]:
        chain: list[str] = []
        followed: set[str] = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str):
                raise LoaderError("invalid", "$ref is not a string", location=self.where, tip="write $ref as a string")
            target, _, fragment = (base + ref if ref.startswith("#") else self._absolute(ref, base)).partition("#")
            key = f"{target}#{fragment}"
            if key in followed:
                raise self.fail(
                    f"circular $ref chain: {' -> '.join([*chain, key][-8:])}", "point the $ref at a real value"
                )
            if len(chain) >= MAX_REF_CHAIN:
                raise LoaderError(
                    "too_large",
                    f"a $ref chain of more than {MAX_REF_CHAIN} links (not circular: each $ref points at another $ref), "
                    f"starting {chain[0]}",
                    location=self.where,
                    tip="point the $refs straight at their schema",
                )
            chain.append(key)
            followed.add(key)
            node, base = self._pointer(self._document(target), fragment, ref), target
        return node, base, chain[-1] if chain else None

    def _absolute(self, ref: str, base: str) -> str:
        url = urljoin(base, ref) if urlsplit(base).scheme in ("http", "https") else ref
        if urlsplit(url).scheme not in ("http", "https"):
            raise self.fail(
                f"$ref '{ref}' points at a file; only http(s) references on the spec's origin are followed",
                "bundle the spec into one file (e.g. `redocly bundle`) or discover it from its URL",
            )
        return url

    def _document(self, url: str) -> Any:
        if url in self.docs:
            return self.docs[url]
        if self.fetch is None or self.allowed is None or origin_of(url) != self.allowed:
            raise self.fail(
                f"$ref to {url} leaves the allowed origin ({self.allowed or 'none: local spec'})",
                "discovery only follows references on the spec's own origin; bundle the spec into one file",
            )
        if len(self.docs) > MAX_REMOTE_DOCUMENTS:
            raise self.fail(f"more than {MAX_REMOTE_DOCUMENTS} referenced documents", "bundle the spec")
        try:
            fetched = self.fetch(url)
        except LoaderError:
            raise
        except Exception as exc:  # the caller's fetch: any failure means the ref cannot be resolved
            raise self.fail(f"cannot fetch {url}: {exc}", "check that the referenced document is reachable") from None
        self.docs[url] = parse_document(fetched, url)
        return self.docs[url]

    def _pointer(self, doc: Any, fragment: str, ref: str) -> Any:
        if fragment and not fragment.startswith("/"):
            raise self.fail(f"$ref '{ref}' is not a JSON pointer", "write refs like '#/components/schemas/Name'")
        node = doc
        for raw in fragment.split("/")[1:] if fragment else []:
            token = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise self.fail(f"$ref '{ref}' does not resolve: no '{token}'", "fix the $ref or add the definition")
        return node


def auth_warning(name: str, scheme: Any, swagger: bool) -> str:
    scheme = scheme if isinstance(scheme, dict) else {}
    kind, label = str(scheme.get("type", "")).lower(), f"security scheme '{name}'"
    http = str(scheme.get("scheme", "")).lower()
    if kind == "http" and http == "bearer":
        return f"{label} (HTTP bearer): set AUTH_TOKEN"
    if kind == "basic" or kind == "http" and http == "basic":
        return f"{label} (HTTP basic): set AUTH_BASIC_USER and AUTH_BASIC_PASS"
    if kind == "apikey" and scheme.get("in") == "header" and str(scheme.get("name")).lower() == "authorization":
        return f"{label} (token in the Authorization header): set AUTH_TOKEN (sent as 'Bearer <token>')"
    if kind == "apikey" and scheme.get("in") == "header":
        return f"{label} (API key header): set AUTH_API_KEY and AUTH_API_KEY_HEADER={scheme.get('name')}"
    if kind == "apikey":
        return f"{label} (API key in {scheme.get('in')}): Luna sends API keys as a header only; add it to the endpoints by hand"
    flows = scheme.get("flows") if isinstance(scheme.get("flows"), dict) else {}
    if kind == "oauth2" and ("clientCredentials" in flows or swagger and scheme.get("flow") == "application"):
        flow = flows.get("clientCredentials") if not swagger else scheme
        token_url = flow.get("tokenUrl") if isinstance(flow, dict) else None
        return (
            f"{label} (OAuth2 client credentials, token URL {token_url}): set the Keycloak settings "
            "AUTH_HOST, AUTH_REALM, AUTH_CLIENT_ID and AUTH_CLIENT_SECRET"
        )
    return f"{label} ({kind or 'unknown'}): no Luna auth mode fits; obtain a token yourself and set AUTH_TOKEN"


def spec_kind(spec: dict[str, Any], source: str) -> bool:
    """True for Swagger 2.0, False for OpenAPI 3.0-3.2; LoaderError `format` otherwise."""
    if "openapi" in spec:
        version, swagger = str(spec["openapi"]), False
        supported = bool(_OPENAPI_VERSION.match(version))
    elif "swagger" in spec:
        version, swagger = str(spec["swagger"]), True
        supported = version in ("2.0", "2")
    else:
        raise LoaderError(
            "format", "no 'openapi' or 'swagger' key", location=source, tip="this is not an OpenAPI/Swagger document"
        )
    if not supported:
        raise LoaderError(
            "format",
            f"unsupported {'Swagger' if swagger else 'OpenAPI'} version {version}",
            location=source,
            tip="Luna reads OpenAPI 3.0/3.1 and Swagger 2.0; convert older specs (e.g. with swagger2openapi)",
        )
    return swagger


def declared_server(
    spec: dict[str, Any], source: str, swagger: bool, deref: Callable[[Any], Any]
) -> tuple[str | None, str]:
    """(base URL, path prefix) the spec declares: Swagger's host/basePath/schemes, or the
    first of OpenAPI's `servers` with its variables' defaults, relative to the source URL."""
    if swagger:
        host, base_path = spec.get("host"), spec.get("basePath")
        schemes = spec.get("schemes") if isinstance(spec.get("schemes"), list) else []
        scheme = "https" if not schemes or "https" in schemes else str(schemes[0])
        prefix = "/" + base_path.strip("/") if isinstance(base_path, str) and base_path.strip("/") else ""
        return (f"{scheme}://{host}" if isinstance(host, str) and host else None), prefix
    servers = spec.get("servers")
    first = deref(servers[0]) if isinstance(servers, list) and servers else None
    if not isinstance(first, dict) or not isinstance(first.get("url"), str):
        return None, ""
    url, variables = first["url"], first.get("variables")
    for name, var in (variables if isinstance(variables, dict) else {}).items():
        default = var.get("default") if isinstance(var, dict) else None
        url = url.replace("{" + str(name) + "}", str(default if default is not None else ""))
    if urlsplit(source).scheme in ("http", "https"):
        url = urljoin(source, url)
    parts = urlsplit(url)
    prefix = re.sub(r"/+", "/", "/" + parts.path.strip("/")).rstrip("/") if parts.path else ""
    return (f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None), prefix
