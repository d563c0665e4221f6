"""OpenAPI 3.0/3.1 and Swagger 2.0 (JSON or YAML) -> Discovery.

Every operation becomes one endpoint: sample path parameters; query, header and cookie
parameters that are required, or optional with an example, default or enum (an optional
parameter without one is left out: junk in it changes what the server answers); never
Authorization (Luna's auth settings send it); a body from the JSON example or generated
from the schema (values match the schema's `format`), and `checks.status` = the lowest
declared 2xx. `$ref`s are resolved lazily: local pointers, and remote/relative documents
only through `fetch` and only on `allowed_origin`. Writes whose operation id, path or
summary say they destroy are marked destructive (`model.destructive_reason`). The spec's
`servers`/`host` is information (`Discovery.base_url`), never the target. Security
schemes are reported as the Luna auth settings that fit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from tasks.discovery.model import (
    DiscoveredEndpoint,
    Discovery,
    LoaderError,
    current_limits,
    destructive_reason,
    destructive_summary,
)
from tasks.discovery.needs import needs_input_reason, needs_input_summary
from tasks.discovery.schema_sample import Budget, Inliner, Sampler, declared, jsonable
from tasks.discovery.spec_document import (
    Resolver,
    auth_warning,
    declared_server,
    escape_token,
    origin_of,
    parse_document,
    spec_kind,
)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


class _Loader:
    def __init__(self, spec: dict[str, Any], source: str, resolver: Resolver, swagger: bool) -> None:
        self.spec, self.source, self.resolver, self.swagger = spec, source, resolver, swagger
        self.base = resolver.base
        budget = Budget(current_limits(), where=lambda: resolver.where)
        self.sampler = Sampler(resolver.deref, budget)
        self.inliner = Inliner(resolver.deref, budget)
        self.warnings: list[str] = []
        self.cut_values: list[str] = []  # operations whose generated value was cut (budget)
        self.cut_schemas: list[str] = []  # operations whose response schema is too large to keep

    def deref(self, node: Any) -> Any:
        return self.resolver.deref(node, self.base)[0]

    def invalid(self, message: str, tip: str = "fix the spec; see the OpenAPI specification") -> LoaderError:
        return LoaderError("invalid", message, location=self.resolver.where, tip=tip)

    def server(self) -> tuple[str | None, str]:
        """(base URL, path prefix)."""
        return declared_server(self.spec, self.source, self.swagger, self.deref)

    def declares(self, param: dict[str, Any]) -> bool:
        """Does the parameter (or its schema) give a value: example(s), default or enum?"""
        keys = ("example", "examples", "default", "enum", "x-example", "const")
        schema = self.deref(param.get("schema")) if not self.swagger else None
        return any(k in param for k in keys) or isinstance(schema, dict) and any(k in schema for k in keys)

    def value(self, param: dict[str, Any]) -> Any:
        """Sample for a parameter: its own example(s), else its schema's (2.0: the param itself)."""
        if "example" in param:
            return param["example"]
        examples = param.get("examples")
        if isinstance(examples, dict) and examples:
            first = self.deref(next(iter(examples.values())))
            if isinstance(first, dict) and "value" in first:
                return first["value"]
        if self.swagger:
            return param["x-example"] if "x-example" in param else self.generated(param, str(param.get("name")))
        found, value = declared(param)
        return value if found else self.generated(param.get("schema", {"type": "string"}), str(param.get("name")))

    def generated(self, schema: Any, name: str) -> Any:
        value = self.sampler.sample(schema, self.base)
        if self.sampler.cut:
            self.cut_values.append(name)
        return value

    def body(self, op: dict[str, Any], params: list[dict[str, Any]], name: str) -> tuple[bool, Any]:
        """(has a body, the body as plain JSON): the example, else generated (already plain JSON)."""
        where = self.resolver.where
        schema: Any = None
        if self.swagger:
            body_param = next((p for p in params if p.get("in") == "body"), None)
            form = [p for p in params if p.get("in") == "formData"]
            if form:
                return True, jsonable({str(p.get("name")): self.value(p) for p in form}, location=where)
            if body_param is None:
                return False, None
            schema = body_param.get("schema")
        else:
            request = self.deref(op.get("requestBody"))
            if request is None:
                return False, None
            if not isinstance(request, dict) or not isinstance(request.get("content", {}), dict):
                raise self.invalid("requestBody is not a mapping with a 'content' mapping")
            content = request.get("content", {})
            media_type = next((m for m in content if "json" in str(m).lower()), next(iter(content), None))
            if media_type is None:
                return False, None
            media = self.deref(content[media_type])
            media = media if isinstance(media, dict) else {}
            if "json" not in str(media_type).lower() and str(media_type).lower() != FORM:
                self.warnings.append(f"operation {name} takes {media_type}; Luna sends the body as JSON")
            if "example" in media:
                return True, jsonable(media["example"], location=where)
            examples = media.get("examples")
            if isinstance(examples, dict) and examples:
                first = self.deref(next(iter(examples.values())))
                if isinstance(first, dict) and "value" in first:
                    return True, jsonable(first["value"], location=where)
            schema = media.get("schema")
        self.warnings.append(f"operation {name} has no example; generated a body from its schema")
        return True, self.generated(schema if schema is not None else {}, name)

    def form_encoded(self, op: dict[str, Any], params: list[dict[str, Any]]) -> bool:
        """Whether the operation takes its body as an HTML form (urlencoded): OpenAPI 3's
        requestBody whose only or first media type is the form one (none of them JSON), or
        Swagger 2.0 formData without files, consuming the form type (its default)."""
        if self.swagger:
            form = [p for p in params if p.get("in") == "formData"]
            consumes = op.get("consumes", self.spec.get("consumes")) or [FORM]
            media = [str(c).lower() for c in consumes] if isinstance(consumes, list) else []
            return bool(form) and FORM in media and not any(p.get("type") == "file" for p in form)
        request = self.deref(op.get("requestBody"))
        content = request.get("content") if isinstance(request, dict) else None
        if not isinstance(content, dict) or not content or any("json" in str(m).lower() for m in content):
            return False
        return str(next(iter(content))).lower() == FORM

    def response_schema(self, op: dict[str, Any], code: int | None) -> dict[str, Any] | None:
        """The JSON schema of the success response, when the spec declares one."""
        responses = op.get("responses")
        if code is None or not isinstance(responses, dict):
            return None
        response = self.deref(responses.get(str(code), responses.get(code)))
        if not isinstance(response, dict):
            return None
        schema: Any = response.get("schema")
        if not self.swagger:
            content = response.get("content")
            content = content if isinstance(content, dict) else {}
            media_type = next((m for m in content if "json" in str(m).lower()), None)
            media = self.deref(content[media_type]) if media_type else None
            schema = media.get("schema") if isinstance(media, dict) else None
        if not isinstance(schema, dict) or not schema:
            return None
        inlined = self.inliner.inline(schema, self.base)
        if self.inliner.cut:
            self.cut_schemas.append(self.resolver.where.rsplit("#", 1)[-1])
        return inlined if isinstance(inlined, dict) and inlined else None

    def response_type(self, op: dict[str, Any], code: int | None) -> str | None:
        """The success response's media type (`text/html` marks a page)."""
        responses = op.get("responses")
        response = self.deref(responses.get(str(code))) if code is not None and isinstance(responses, dict) else None
        if not isinstance(response, dict):
            return None
        if self.swagger:
            produces = op.get("produces", self.spec.get("produces"))
            return str(produces[0]) if isinstance(produces, list) and produces else None
        content = response.get("content")
        return str(next(iter(content))) if isinstance(content, dict) and content else None

    def params(self, item: dict[str, Any], op: dict[str, Any]) -> list[dict[str, Any]]:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for level in (item.get("parameters", []), op.get("parameters", [])):
            if not isinstance(level, list):
                raise self.invalid("'parameters' is not a list")
            for raw in level:
                param = self.deref(raw)
                if not isinstance(param, dict):
                    raise self.invalid("a parameter is not a mapping")
                merged[(str(param.get("name")), str(param.get("in")))] = param
        return list(merged.values())

    def parameters(
        self, params: list[dict[str, Any]], path: str, name: str
    ) -> tuple[str, list[tuple[str, str]], dict[str, str], list[str]]:
        """(path with path parameters filled, query pairs, headers, the required parameters
        whose values were generated because the spec gives none)."""
        url_path = path
        query: list[tuple[str, str]] = []
        headers: dict[str, str] = {}
        cookies: list[str] = []
        guessed: list[str] = []
        for param in params:
            where, pname = param.get("in"), str(param.get("name"))
            declared = self.declares(param)
            if (
                where in ("path", "query", "header", "cookie")
                and not declared
                and (where == "path" or param.get("required") is True)
            ):
                guessed.append(pname)  # a required value the spec does not give: generated
            if where in ("query", "header", "cookie") and not (param.get("required") is True or declared):
                continue  # optional and nothing to send but junk: left out
            if where == "path":
                value = _text(self.value(param))
                if not value:  # e.g. a Swagger 2.0 path parameter declared without a type
                    value = "200" if re.search(r"code|status", pname, re.IGNORECASE) else "1"
                    self.warnings.append(
                        f"operation {name}: path parameter '{pname}' has no type or example; used {value}"
                    )
                url_path = url_path.replace("{" + pname + "}", quote(value, safe=""))
            elif where == "query":
                value = self.value(param)
                for v in value if isinstance(value, list) else [value]:
                    query.append((pname, _text(v)))
            elif where == "header" and pname.lower() not in ("authorization", "cookie"):
                headers[pname] = _text(self.value(param))
            elif where == "cookie":
                cookies.append(f"{pname}={quote(_text(self.value(param)), safe='')}")
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        if re.search(r"\{[^}/]*\}", url_path):
            self.warnings.append(f"operation {name}: path parameters without a declaration were set to 'sample'")
            url_path = re.sub(r"\{[^}/]*\}", "sample", url_path)
        return url_path, query, headers, guessed

    def operation(self, path: str, method: str, item: dict[str, Any], op: Any, prefix: str) -> DiscoveredEndpoint:
        if not isinstance(op, dict):
            raise self.invalid(f"operation {method.upper()} {path} is not a mapping")
        name = str(op["operationId"]) if op.get("operationId") else f"{method.upper()}_{path}"
        params = self.params(item, op)
        url_path, query, headers, guessed = self.parameters(params, path, name)
        full_path = (prefix + url_path) or "/"
        if query:
            full_path += "?" + urlencode(query)
        has_body, body = self.body(op, params, name)
        body = body if has_body else None
        if isinstance(body, dict) and self.form_encoded(op, params):
            body = _form(body)
            headers["Content-Type"] = FORM
        responses = op.get("responses", {})
        codes = sorted(
            int(c) for c in (responses if isinstance(responses, dict) else {}) if re.fullmatch(r"2\d\d", str(c))
        )
        tags = op.get("tags")
        segment = next((s for s in path.split("/") if s and not s.startswith("{")), "default")
        group = str(tags[0]) if isinstance(tags, list) and tags and str(tags[0]) else segment
        endpoint = DiscoveredEndpoint(
            name=name,
            group=group[:100],
            method=method.upper(),
            path=full_path,
            body=body,
            headers=headers,
            checks={"status": codes[0]} if codes else {},
            response_schema=self.response_schema(op, codes[0] if codes else None),
            response_type=self.response_type(op, codes[0] if codes else None),
            source=f"{self.source}#/paths/{escape_token(path)}/{method}",
        )
        endpoint.destructive_reason = destructive_reason(
            method,
            write=method in ("post", "put", "patch"),
            operation_id=str(op.get("operationId") or ""),
            path=re.sub(r"\{[^}]*\}", "", path),
            summary=str(op.get("summary") or ""),
        )
        endpoint.destructive = endpoint.destructive_reason is not None
        endpoint.needs_input = needs_input_reason(path, guessed)
        if method == "post" and path.rstrip("/").endswith("/graphql"):
            document = body.get("query") if isinstance(body, dict) else None
            variables = body.get("variables") if isinstance(body, dict) else None
            endpoint.type, endpoint.body = "graphql", None
            endpoint.query = document if isinstance(document, str) and document.strip() else "{ __typename }"
            endpoint.variables = variables if isinstance(variables, dict) else None
        return endpoint

    def endpoints(self) -> tuple[str | None, list[DiscoveredEndpoint]]:
        base_url, prefix = self.server()
        paths = self.spec.get("paths", {})
        if paths is None and not self.swagger and "webhooks" in self.spec:
            paths = {}
        if not isinstance(paths, dict):
            raise self.invalid("'paths' is not a mapping", "paths maps '/path' to its operations")
        found: list[DiscoveredEndpoint] = []
        for path, raw_item in paths.items():
            if isinstance(path, str) and path.startswith("x-"):
                continue
            self.resolver.where = f"{self.source}#/paths/{escape_token(str(path))}"
            if not isinstance(path, str) or not path.startswith("/"):
                raise self.invalid(f"path '{path}' does not start with '/'")
            item = self.deref(raw_item)
            if not isinstance(item, dict):
                raise self.invalid(f"path item {path} is not a mapping")
            if "trace" in item:
                self.warnings.append(f"TRACE {path} left out: Luna endpoints do not send TRACE")
            for method in METHODS:
                if method in item:
                    self.resolver.where = f"{self.source}#/paths/{escape_token(path)}/{method}"
                    found.append(self.operation(path, method, item, item[method], prefix))
        for summary in (destructive_summary(found), needs_input_summary(found)):
            if summary:
                self.warnings.append(summary)
        self.budget_warnings()
        return base_url, found

    def budget_warnings(self) -> None:
        def some(names: list[str]) -> str:
            return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")

        if self.cut_values:
            self.warnings.append(
                f"{len(self.cut_values)} generated values were cut at {self.sampler.per_operation} values "
                f"(discovery budget: the schemas fan out): {some(self.cut_values)}; give examples to send whole ones"
            )
        if self.cut_schemas:
            self.warnings.append(
                f"{len(self.cut_schemas)} response schemas expand past {self.inliner.per_operation} values "
                f"(discovery budget): their responses are not validated: {some(self.cut_schemas)}"
            )


FORM = "application/x-www-form-urlencoded"


def _form(fields: dict[str, Any]) -> str:
    """A form body: each field once, a list as repeated fields (`tag=a&tag=b`)."""
    pairs = [(str(k), _text(v)) for k, value in fields.items() for v in (value if isinstance(value, list) else [value])]
    return urlencode(pairs)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(jsonable(value, location="parameter"), default=str)
    return "" if value is None else str(value)


def from_openapi(
    document: bytes | str,
    *,
    source: str,
    fetch: Callable[[str], bytes] | None = None,
    allowed_origin: str | None = None,
) -> Discovery:
    """An OpenAPI 3.x or Swagger 2.0 document -> Discovery; raises LoaderError only."""
    spec = parse_document(document, source)
    if not isinstance(spec, dict):
        raise LoaderError(
            "format",
            f"the document is a {type(spec).__name__}, not a mapping",
            location=source,
            tip="pass an OpenAPI spec",
        )
    swagger = spec_kind(spec, source)
    resolver = Resolver(spec, source, fetch, allowed_origin)
    loader = _Loader(spec, source, resolver, swagger)
    try:
        base_url, endpoints = loader.endpoints()
        components: dict[str, Any] = spec["components"] if isinstance(spec.get("components"), dict) else {}
        schemes = spec.get("securityDefinitions") if swagger else components.get("securitySchemes")
        resolver.where = source
        for name, scheme in (schemes if isinstance(schemes, dict) else {}).items():
            loader.warnings.append(auth_warning(str(name), resolver.deref(scheme, resolver.base)[0], swagger))
        if base_url and origin_of(base_url) != origin_of(source):
            loader.warnings.append(
                f"the spec declares the server {base_url}: information only, never a target "
                "(Luna tests the URL you name: --target, --url or BASE_URL)"
            )
        info = spec.get("info")
        title = info.get("title") if isinstance(info, dict) else None
        return Discovery(
            source=source,
            kind="swagger" if swagger else "openapi",
            title=str(title) if title is not None else None,
            base_url=base_url,
            endpoints=endpoints,
            warnings=list(dict.fromkeys(loader.warnings)),
        )
    except (KeyError, TypeError, AttributeError, ValueError, RecursionError, IndexError) as exc:
        raise LoaderError(
            "invalid",
            f"cannot read the spec here: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            location=resolver.where,
            tip="check this part of the spec against the OpenAPI specification",
        ) from None
