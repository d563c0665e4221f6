"""Render a :class:`SuiteSpec` into files (text only; nothing is written here).

Every value from the spec reaches the output through the filters of
:mod:`tasks.generation.safe` (``py``, ``js``, ``comment``) or ``json.dumps``; identifiers
and file names are made, never copied. The spec's text is never used as a template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from luna.markdown import md
from tasks.generation.lighthouse_config import lighthouse_index, lighthouse_presets
from tasks.generation.model import SuiteEndpoint, SuiteKind, SuiteSpec
from tasks.generation.safe import (
    JS_RESERVED,
    GenerationError,
    Names,
    comment_text,
    file_slug,
    js_literal,
    js_number,
    py_literal,
)

TEMPLATES = Path(__file__).with_name("templates")
CUSTOM_BEGIN = "--- luna:custom begin ---"
CUSTOM_END = "--- luna:custom end ---"
CUSTOM_HINT = "Your code between these two marker lines survives `luna gen-tests`."
K6_HELPERS = {"setup", "options", "requestParams", "jsonBody", "hasPath", "gqlBody", "hasHeader", "authHeaders", "fill"}
K6_HELPERS |= {"fillAll", "lookup", "nextRow", "parseRows", "DATA", "open"}
K6_HELPERS |= {"pick", "hex", "FAKER", "FIRST", "LAST", "PLACEHOLDER", "BASE_URL", "VUS", "DURATION", "SLEEP"}
K6_HELPERS |= {"http", "encoding", "check", "fail", "sleep"}


def custom_block(comment: str) -> str:
    return f"{comment} {CUSTOM_BEGIN}\n{comment} {CUSTOM_HINT}\n{comment} {CUSTOM_END}\n"


@dataclass
class Rendered:
    """One generated file: its text, and whether the user owns it after creation."""

    path: str
    text: str
    once: bool = False  # created when missing, never rewritten (test_*_custom.py)
    custom: str | None = None  # comment prefix of its custom section, if it has one


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["py"] = py_literal
    env.filters["js"] = js_literal
    env.filters["num"] = js_number
    env.filters["comment"] = comment_text
    env.filters["md"] = md
    return env


def render_suite(
    spec: SuiteSpec, kinds: list[SuiteKind], readme_kinds: list[SuiteKind] | None = None
) -> list[Rendered]:
    env = environment()
    files: list[Rendered] = [
        Rendered("pytest.ini", env.get_template("pytest.ini.j2").render()),
        Rendered("ruff.toml", env.get_template("ruff.toml.j2").render()),
        Rendered("README.md", env.get_template("README.md.j2").render(spec=spec, kinds=readme_kinds or kinds)),
    ]
    if {"api", "ui"} & set(readme_kinds or kinds):
        files.append(_templated(env, "conftest.py.j2", "conftest.py", base_url=spec.base_url, service=spec.service))
    copies = data_copies(spec)
    if {"api", "k6"} & set(kinds):
        files += [Rendered(name, _read_data(source)) for source, name in copies.items()]
    if "api" in kinds:
        files += render_api(env, spec, copies)
    if "ui" in kinds and spec.pages:
        files += render_ui(env, spec)
    if "k6" in kinds:
        files.append(render_k6(env, spec, copies))
    if "lighthouse" in kinds and spec.pages:
        files += render_lighthouse(spec)
    return files


def _templated(env: jinja2.Environment, template: str, path: str, **context: Any) -> Rendered:
    comment = "//" if path.endswith(".js") else "#"
    text = env.get_template(template).render(custom=custom_block(comment).rstrip("\n"), **context)
    return Rendered(path, text, custom=comment)


def _static(name: str, path: str) -> Rendered:
    return Rendered(path, (TEMPLATES / "static" / name).read_text(encoding="utf-8"))


# ---- API suite ---------------------------------------------------------------------------


def _is_json(ep: SuiteEndpoint) -> bool:
    return ep.response_type is None or "json" in ep.response_type


def _py_checks(ep: SuiteEndpoint) -> list[dict[str, Any]]:
    c = ep.checks
    calls: list[dict[str, Any]] = []
    if c.status is not None:
        calls.append({"fn": "expect_status", "args": [c.status]})
    else:
        calls.append({"fn": "expect_success", "args": []})
    if c.body_path:
        calls.append({"fn": "expect_body_path", "args": [c.body_path]})
    if c.header_present:
        calls.append({"fn": "expect_header", "args": [c.header_present]})
    if c.max_duration_ms:
        js_number(c.max_duration_ms)  # finite, or a GenerationError
        calls.append({"fn": "expect_max_duration", "args": [c.max_duration_ms]})
    if c.body_contains:
        calls.append({"fn": "expect_body_contains", "args": [c.body_contains]})
    if c.no_graphql_errors:
        calls.append({"fn": "expect_no_graphql_errors", "args": []})
    if c.has_data:
        calls.append({"fn": "expect_graphql_data", "args": []})
    return calls


def _request_json(ep: SuiteEndpoint) -> Any:
    if ep.type == "graphql":
        payload: dict[str, Any] = {"query": ep.query}
        if ep.variables is not None:
            payload["variables"] = ep.variables
        return payload
    return ep.body


def render_api(env: jinja2.Environment, spec: SuiteSpec, data_files: dict[str, str]) -> list[Rendered]:
    groups: dict[str, list[SuiteEndpoint]] = {}
    for ep in spec.endpoints:
        groups.setdefault(ep.group, []).append(ep)
    modules = Names({"test_api_custom", "conftest", "luna_api"})
    files = [
        _static("luna_api.py", "api/luna_api.py"),
        _templated(env, "api/conftest.py.j2", "api/conftest.py"),
        Rendered("api/test_api_custom.py", env.get_template("api/test_custom.py.j2").render(), once=True),
    ]
    schemas: dict[str, Any] = {}
    for group, endpoints in groups.items():
        names = Names()
        tests = []
        helpers = {"send"}
        for ep in endpoints:
            checks = _py_checks(ep)
            helpers |= {c["fn"] for c in checks}
            schema = ep.response_schema is not None and _is_json(ep)
            if schema:
                schemas[ep.name] = ep.response_schema
                helpers.add("expect_schema")
            if ep.data_file:
                helpers.add("data_row")
            doc = f"{ep.method} {ep.path}" + (" (GraphQL)" if ep.type == "graphql" else "")
            tests.append(
                {
                    "fn": names.take(ep.name, prefix="test_"),
                    "name": ep.name,
                    "doc": doc,
                    "method": ep.method,
                    "path": ep.path,
                    "json": _request_json(ep),
                    "headers": ep.headers,
                    "checks": checks,
                    "schema": schema,
                    "row": bool(ep.data_file),
                    "data_file": data_files.get(ep.data_file or ""),
                }
            )
        module = modules.take(group, prefix="test_api_")
        files.append(
            _templated(
                env,
                "api/test_group.py.j2",
                f"api/{module}.py",
                group=group,
                tests=tests,
                helpers=sorted(helpers),
                uses_any=any(t["schema"] for t in tests),
            )
        )
    files.append(Rendered("api/schemas.json", json.dumps(schemas, indent=2, ensure_ascii=True) + "\n"))
    return files


MAX_DATA_BYTES = 20 * 1024 * 1024


def data_copies(spec: SuiteSpec) -> dict[str, str]:
    """Each endpoint data file -> the safe, unique name of its copy (data/<slug>.csv|json)."""
    copies: dict[str, str] = {}
    for ep in spec.endpoints:
        if not ep.data_file or ep.data_file in copies:
            continue
        path = Path(ep.data_file)
        ext = ".json" if path.suffix.lower() == ".json" else ".csv"
        name, n = f"data/{file_slug(path.stem)}{ext}", 2
        while name in copies.values():
            name, n = f"data/{file_slug(path.stem)}-{n}{ext}", n + 1
        copies[ep.data_file] = name
    return copies


def _read_data(source: str) -> str:
    path = Path(source)
    if path.stat().st_size > MAX_DATA_BYTES:
        raise GenerationError(
            f"data file {source} is over {MAX_DATA_BYTES} bytes", tip="use a smaller sample for the API suite"
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise GenerationError(f"data file {source} is not UTF-8 text", tip="save it as UTF-8") from None


# ---- UI suite ----------------------------------------------------------------------------


def render_ui(env: jinja2.Environment, spec: SuiteSpec) -> list[Rendered]:
    pages = [{"path": p.path, "id": p.name} for p in spec.pages]
    return [
        _static("luna_ui.py", "ui/luna_ui.py"),
        _templated(env, "ui/conftest.py.j2", "ui/conftest.py"),
        _templated(env, "ui/test_pages.py.j2", "ui/test_ui_pages.py", pages=pages),
        Rendered("ui/test_ui_custom.py", env.get_template("ui/test_custom.py.j2").render(), once=True),
    ]


# ---- k6 ----------------------------------------------------------------------------------


def _k6_checks(ep: SuiteEndpoint) -> list[dict[str, str]]:
    c, p = ep.checks, f"{ep.name}: "
    out: list[dict[str, str]] = []
    if c.status is not None:
        codes = c.status if isinstance(c.status, list) else [c.status]
        label = "|".join(str(code) for code in codes)
        test = f"r.status === {codes[0]}" if len(codes) == 1 else f"{js_literal(codes)}.indexOf(r.status) >= 0"
        out.append({"label": f"{p}status is {label}", "code": f"(r) => {test}"})
    else:
        out.append({"label": f"{p}status below 400", "code": "(r) => r.status > 0 && r.status < 400"})
    if c.body_path:
        out.append({"label": f"{p}body has {c.body_path}", "code": f"(r) => hasPath(r, {js_literal(c.body_path)})"})
    if c.header_present:
        code = f"(r) => hasHeader(r, {js_literal(c.header_present)})"
        out.append({"label": f"{p}header {c.header_present} present", "code": code})
    if c.max_duration_ms:
        limit = js_number(c.max_duration_ms)
        out.append({"label": f"{p}duration <= {limit}ms", "code": f"(r) => r.timings.duration <= {limit}"})
    if c.body_contains:
        code = f"(r) => typeof r.body === 'string' && r.body.indexOf({js_literal(c.body_contains)}) >= 0"
        out.append({"label": f"{p}body contains {c.body_contains}", "code": code})
    if c.no_graphql_errors:
        code = "(r) => { const b = gqlBody(r); return b !== null && !(b.errors && b.errors.length); }"
        out.append({"label": f"{p}no graphql errors", "code": code})
    if c.has_data:
        code = "(r) => { const b = gqlBody(r); return b !== null && b.data !== undefined && b.data !== null; }"
        out.append({"label": f"{p}graphql data", "code": code})
    return out


def render_k6(env: jinja2.Environment, spec: SuiteSpec, data_files: dict[str, str]) -> Rendered:
    names = Names(set(JS_RESERVED) | K6_HELPERS)
    groups: dict[str, dict[str, Any]] = {}
    thresholds: list[dict[str, str]] = []
    for ep in spec.endpoints:
        group = groups.setdefault(ep.group, {"name": ep.group, "fn": None, "endpoints": [], "rows": False})
        if group["fn"] is None:
            group["fn"] = names.take(ep.group, lower=False)
        payload = _request_json(ep)
        headers = dict(ep.headers)
        if payload is not None:
            headers.setdefault("Content-Type", "application/json")
        data_file = data_files.get(ep.data_file or "")
        row = ", row" if data_file else ""
        group["rows"] = group["rows"] or bool(data_file)
        group["endpoints"].append(
            {
                "name": ep.name,
                "method": ep.method,
                "path": ep.path,
                "url": f"BASE_URL + fill({js_literal(ep.path)}, encodeURIComponent{row})"
                if "{{" in ep.path
                else f"BASE_URL + {js_literal(ep.path)}",
                "headers": headers,
                "body": "null" if payload is None else f"jsonBody({js_literal(payload)}{row})",
                "data_file": data_file,
                "checks": _k6_checks(ep),
            }
        )
        thresholds.append({"key": f"http_req_duration{{name:{ep.name}}}", "rule": f"p(95)<{js_number(ep.slos.p95_ms)}"})
        thresholds.append(
            {"key": f"http_req_failed{{name:{ep.name}}}", "rule": f"rate<{js_number(ep.slos.error_rate)}"}
        )
    slos = {
        "p95_ms": js_number(spec.slos.p95_ms),
        "error_rate": js_number(spec.slos.error_rate),
        "check_rate": js_number(round(1 - spec.slos.error_rate, 6)),
    }
    text = env.get_template("k6/script.js.j2").render(
        service=spec.service,
        sources=spec.sources,
        base_url=spec.base_url,
        groups=list(groups.values()),
        data_files=sorted(set(data_files.values())),
        thresholds=thresholds,
        slos=slos,
        custom=custom_block("//").rstrip("\n"),
    )
    return Rendered("k6/script.js", text, custom="//")


# ---- Lighthouse --------------------------------------------------------------------------


def render_lighthouse(spec: SuiteSpec) -> list[Rendered]:
    """The desktop and mobile presets plus lighthouse.json (pages and budgets)."""
    out = [Rendered(f"lighthouse/{name}.json", _json(config)) for name, config in lighthouse_presets().items()]
    out.append(Rendered("lighthouse/lighthouse.json", _json(lighthouse_index(spec))))
    return out


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=True, allow_nan=False) + "\n"
