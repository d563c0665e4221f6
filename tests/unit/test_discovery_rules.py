"""What discovery sends and marks (issue 12 items 3-6 and 10): optional parameters without
a value are left out, generated values match the schema's format, GraphQL custom scalars
get values of their kind, destructive operations are found by their words (one function
for REST and GraphQL), HAR calls that failed in the recording are left out, a probed URL
with no API says so, and the endpoints file records the target the user named, never a
spec's servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from luna.catalog import load_catalog, parse_catalog
from luna.settings import load_settings
from tasks.discovery.graphql import from_graphql
from tasks.discovery.har import from_har
from tasks.discovery.merge import merge
from tasks.discovery.model import DiscoveredEndpoint, Discovery, destructive_reason
from tasks.discovery.openapi import from_openapi
from tasks.discovery.schema_sample import FIXED_UUID
from tasks.discovery.tasks import write_endpoints_file
from tasks.generation.suites import GenerateParams, generate_suite
from tasks.pipeline.model import PipelineResult, StageOutcome
from tasks.pipeline.stages import discovery_outcome, no_api_load

pytestmark = pytest.mark.unit


def spec(paths: dict[str, Any], **extra: Any) -> str:
    return json.dumps({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths, **extra})


def one(document: str) -> DiscoveredEndpoint:
    found = from_openapi(document, source="spec.json")
    assert len(found.endpoints) == 1
    return found.endpoints[0]


# --- item 3: optional parameters and formats -----------------------------------------------


def test_optional_parameters_without_a_value_are_left_out() -> None:
    """Prefect's spec gives every operation an optional `x-prefect-api-version` header with a
    bare string schema: today it is sent as `sample`, and the server answers 400."""
    params = [
        {"name": "x-prefect-api-version", "in": "header", "required": False, "schema": {"type": "string"}},
        {"name": "If-Modified-Since", "in": "header", "schema": {"type": "string"}},
        {"name": "page", "in": "query", "schema": {"type": "integer"}},
        {"name": "session", "in": "cookie", "schema": {"type": "string"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 20}},
        {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}},
        {"name": "X-Tenant", "in": "header", "example": "acme"},
        {"name": "X-Request-Id", "in": "header", "required": True, "schema": {"type": "string", "format": "uuid"}},
        {"name": "since", "in": "query", "required": True, "schema": {"type": "string", "format": "date-time"}},
        {"name": "theme", "in": "cookie", "schema": {"type": "string", "default": "dark"}},
    ]
    ep = one(spec({"/flows": {"get": {"parameters": params, "responses": {"200": {"description": "ok"}}}}}))
    assert ep.path == "/flows?limit=20&order=asc&since=2024-01-01T00%3A00%3A00Z"
    assert ep.headers == {"X-Tenant": "acme", "X-Request-Id": FIXED_UUID, "Cookie": "theme=dark"}


def test_swagger_optional_header_without_a_value_is_left_out() -> None:
    """httpbin's `/cache` declares an optional If-Modified-Since header: sent empty, it made
    the server answer 304 instead of 200."""
    document = json.dumps(
        {
            "swagger": "2.0",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/cache": {
                    "get": {
                        "parameters": [
                            {"name": "If-Modified-Since", "in": "header", "type": "string"},
                            {"name": "If-None-Match", "in": "header", "type": "string", "required": True},
                        ],
                        "responses": {"200": {"description": "ok"}},
                    }
                }
            },
        }
    )
    ep = one(document)
    assert ep.headers == {"If-None-Match": "sample"}


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "string", "format": "date"}, "2024-01-01"),
        ({"type": "string", "format": "date-time"}, "2024-01-01T00:00:00Z"),
        ({"type": "string", "format": "uuid"}, FIXED_UUID),
        ({"type": "string", "format": "email"}, "user@example.com"),
        ({"type": "string", "format": "uri"}, "https://example.com/"),
        ({"type": "string", "format": "ipv4"}, "127.0.0.1"),
        ({"type": "string", "format": "ipv6"}, "::1"),
        ({"type": "string", "format": "hostname"}, "example.com"),
        ({"type": "string", "format": "duration"}, "P1D"),
        ({"type": "integer", "minimum": 5, "maximum": 9}, 5),
        ({"type": "integer", "maximum": 0}, 0),
        ({"type": "integer", "exclusiveMinimum": 10}, 11),
        ({"type": "number", "minimum": 0, "exclusiveMaximum": 1}, 0.5),
    ],
)
def test_generated_values_match_the_format(schema: dict[str, Any], value: Any) -> None:
    body = {
        "content": {"application/json": {"schema": {"type": "object", "required": ["v"], "properties": {"v": schema}}}}
    }
    ep = one(spec({"/x": {"post": {"requestBody": body, "responses": {"201": {"description": "ok"}}}}}))
    assert ep.body == {"v": value}


def test_optional_body_properties_without_a_value_are_left_out() -> None:
    """Prefect's filter bodies have only optional fields: filled with invented values they
    narrow the filter (and hit server bugs: POST /logs/filter answered 500)."""
    schema = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "limit": {"type": "integer", "default": 10},
            "sort": {"type": "string", "enum": ["NAME_ASC", "NAME_DESC"]},
            "logs": {"type": "object", "properties": {"level": {"type": "integer"}}},
            "text": {"type": "string"},
        },
    }
    body = {"content": {"application/json": {"schema": schema}}}
    ep = one(spec({"/filter": {"post": {"requestBody": body, "responses": {"200": {"description": "ok"}}}}}))
    assert ep.body == {"name": "sample", "limit": 10, "sort": "NAME_ASC"}


# --- GraphQL custom scalars ------------------------------------------------------------------

SDL = """
scalar Date
scalar DateTime
scalar UUID
scalar EmailAddress
scalar Mystery
scalar Stamp @specifiedBy(url: "https://tools.ietf.org/html/rfc3339")
input EventInput { on: Date!, at: DateTime!, id: UUID!, contact: EmailAddress!, note: String }
type Event { id: ID! on: Date }
type Query { eventsOn(day: Date!): [Event] eventsAt(at: Stamp!): [Event] riddle(m: Mystery!): Event }
type Mutation {
  createEvent(input: EventInput!): Event
  tagEvent(id: ID!, tag: Mystery!): Event
  deleteEvent(id: ID!): Event
  bulkArchiveEvents(ids: [ID!]!): Int
  renameEvent(id: ID!, name: String!): Event
}
"""


def test_graphql_custom_scalars_get_values_of_their_kind() -> None:
    """A `Date!` argument got "string"; the server stored it and every later query failed."""
    eps = {e.name: e for e in from_graphql(SDL, source="schema.graphql").endpoints}
    assert eps["query_eventsOn"].variables == {"day": "2024-01-01"}
    assert eps["query_eventsAt"].variables == {"at": "2024-01-01T00:00:00Z"}  # by its @specifiedBy URL
    assert eps["mutation_createEvent"].variables == {
        "input": {"on": "2024-01-01", "at": "2024-01-01T00:00:00Z", "id": FIXED_UUID, "contact": "user@example.com"}
    }
    assert not eps["mutation_createEvent"].destructive


def test_graphql_unknown_custom_scalar_is_never_invented() -> None:
    found = from_graphql(SDL, source="schema.graphql")
    eps = {e.name: e for e in found.endpoints}
    tag = eps["mutation_tagEvent"]
    assert tag.destructive and tag.variables == {"id": "1", "tag": None}
    assert not eps["query_riddle"].destructive  # a query stores nothing
    warning = next(w for w in found.warnings if w.startswith("mutation tagEvent"))
    assert "custom scalar(s) Mystery" in warning and "marked destructive" in warning


# --- item 4: destructive by words, one function ------------------------------------------------


def test_destructive_by_operation_id_path_and_summary() -> None:
    """Prefect's POST /flows/bulk_delete, /flow_runs/bulk_set_state and PUT /admin/storage
    were loaded because only the method was looked at."""
    ok = {"200": {"description": "ok"}}
    paths = {
        "/flows/bulk_delete": {"post": {"operationId": "bulk_delete_flows", "responses": ok}},
        "/flow_runs/bulk_set_state": {"post": {"operationId": "bulk_set_flow_run_state", "responses": ok}},
        "/admin/storage": {
            "put": {"operationId": "update_server_default_result_storage", "responses": ok},
            "get": {"operationId": "read_storage", "responses": ok},
        },
        "/limits/{tag}/reset": {"post": {"operationId": "limitsTag", "responses": ok}},
        "/carts/{id}": {"patch": {"summary": "Remove every item from the cart", "responses": ok}},
        "/flows/filter": {"post": {"operationId": "read_flows", "summary": "Read Flows", "responses": ok}},
        "/deleted_items": {"get": {"operationId": "list_deleted_items", "responses": ok}},
        "/flows/{id}": {"delete": {"operationId": "forget", "responses": ok}},
    }
    found = from_openapi(spec(paths), source="spec.json")
    marked = {(e.method, e.path.split("?")[0]): e.destructive_reason for e in found.endpoints if e.destructive}
    assert marked == {
        ("POST", "/flows/bulk_delete"): "'delete' in its operation id",
        ("POST", "/flow_runs/bulk_set_state"): "'bulk' in its operation id",
        ("PUT", "/admin/storage"): "'admin' in its path",
        ("POST", "/limits/sample/reset"): "'reset' in its path",
        ("PATCH", "/carts/sample"): "'remove' in its summary",
        ("DELETE", "/flows/sample"): "a DELETE",
    }
    assert any(
        w.startswith("marked 5 writes destructive by their names: POST /flows/bulk_delete") for w in found.warnings
    )
    written = merge([found], service="s")["endpoints"]
    assert sum(1 for e in written if e.get("destructive")) == 6


def test_graphql_and_rest_share_the_word_list() -> None:
    eps = {e.name: e for e in from_graphql(SDL, source="schema.graphql").endpoints}
    assert eps["mutation_deleteEvent"].destructive_reason == destructive_reason("POST", write=True, name="deleteEvent")
    assert eps["mutation_bulkArchiveEvents"].destructive
    assert not eps["mutation_renameEvent"].destructive
    assert destructive_reason("GET", write=False, path="/delete") is None  # reads are safe by their method


# --- item 6: HAR calls that failed, and "no API found" -------------------------------------------


def har_entry(method: str, url: str, status: int) -> dict[str, Any]:
    return {
        "_resourceType": "xhr",
        "request": {"method": method, "url": url, "headers": [], "queryString": []},
        "response": {"status": status, "content": {"mimeType": "application/json"}},
    }


def test_har_leaves_out_calls_that_failed_in_the_recording() -> None:
    entries = [
        har_entry("GET", "http://127.0.0.1:3000/posts", 200),
        har_entry("GET", "http://127.0.0.1:3000/missing", 404),
        har_entry("POST", "http://127.0.0.1:3000/posts", 500),
        har_entry("GET", "http://127.0.0.1:3000/slow", 503),
        har_entry("GET", "http://127.0.0.1:3000/private", 401),
    ]
    found = from_har(json.dumps({"log": {"version": "1.2", "entries": entries}}), source="rec.har")
    assert [(e.method, e.path) for e in found.endpoints] == [("GET", "/posts"), ("GET", "/private")]
    assert (
        "left out 3 entries that failed in the recording (404 or 5xx): GET /missing (404), POST /posts (500), "
        "GET /slow (503); they would fail the run, not measure it" in found.warnings
    )


def pages_only(source: str = "http://127.0.0.1:3000/") -> Discovery:
    page = DiscoveredEndpoint(name="page /", group="pages", path="/", response_type="text/html", checks={"status": 200})
    return Discovery(source=source, kind="url", base_url="http://127.0.0.1:3000", endpoints=[page], api_found=False)


def test_no_api_found_is_recorded_and_a_warning_stage(tmp_path: Path) -> None:
    out = tmp_path / "endpoints.json"
    written = write_endpoints_file([pages_only()], out, service="site", include_destructive=False)
    catalog = load_catalog(out)
    assert written == catalog  # the hand-off is what the file holds
    assert catalog.discovery is not None and catalog.discovery.api_found is False
    assert catalog.target == "http://127.0.0.1:3000"  # the URL the user named
    assert "no API is exercised" in catalog.discovery.warnings[0]
    outcome = discovery_outcome([pages_only()], written, out)
    assert outcome.status == "warning" and outcome.reason.startswith("no API found at http://127.0.0.1:3000/")
    load = no_api_load(StageOutcome(name="load", status="passed", reason="PASS"), [pages_only()])
    assert load.status == "warning" and load.reason.startswith("no API exercised")
    result = PipelineResult(
        pipeline_id="p", target="http://127.0.0.1:3000", profile="smoke", started_at="2026-12-03T00:00:00Z", out_dir="o"
    )
    result.stages = [outcome, load]
    assert result.passed  # a warning is said, not a failure (unless the user asks for one)


# --- item 10: the target is the URL the user named ---------------------------------------------

SERVERS_SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "Elsewhere", "version": "1"},
    "servers": [{"url": "https://httpbin.org"}],
    "paths": {"/get": {"get": {"operationId": "get", "responses": {"200": {"description": "ok"}}}}},
}


def test_spec_servers_are_information_not_the_target(tmp_path: Path) -> None:
    found = from_openapi(json.dumps(SERVERS_SPEC), source="spec.json")
    assert found.base_url == "https://httpbin.org"
    assert any("declares the server https://httpbin.org: information only, never a target" in w for w in found.warnings)
    data = merge([found], service="s", target="http://127.0.0.1:8787/")
    catalog = parse_catalog(data, source="x")
    assert catalog.target == "http://127.0.0.1:8787"
    assert catalog.discovery is not None and catalog.discovery.declared_servers == ["https://httpbin.org"]


def test_gen_tests_spec_never_aims_at_the_specs_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    """`gen-tests --spec` wrote DEFAULT_BASE_URL = "https://httpbin.org" from the spec's host."""
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(SERVERS_SPEC))
    monkeypatch.setenv("BASE_URL", "http://127.0.0.1:8799")
    made = generate_suite(
        GenerateParams(specs=[str(spec_file)], kinds=["api", "k6"], out_dir=str(tmp_path / "suites")), load_settings()
    )
    conftest = (made.suite_dir / "conftest.py").read_text()
    assert 'DEFAULT_BASE_URL = "http://127.0.0.1:8799"' in conftest
    assert "httpbin.org" not in conftest
    assert made.manifest is not None and made.manifest.base_url == "http://127.0.0.1:8799"
    assert "httpbin.org" not in next((made.suite_dir / "k6").glob("*.js")).read_text()


def test_gen_tests_from_an_endpoints_file_defaults_to_its_recorded_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    """From an endpoints file the suite defaulted to the demo's address; now to the target
    recorded at discovery. gen-tests leaves no .ruff_cache in the current folder."""
    found = from_openapi(json.dumps(SERVERS_SPEC), source="spec.json")
    config = tmp_path / "endpoints.json"
    write_endpoints_file([found], config, service="svc", include_destructive=False, target="http://127.0.0.1:8798")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    made = generate_suite(
        GenerateParams(config=str(config), kinds=["api"], out_dir=str(tmp_path / "suites")), load_settings()
    )
    assert made.manifest is not None and made.manifest.base_url == "http://127.0.0.1:8798"
    assert 'DEFAULT_BASE_URL = "http://127.0.0.1:8798"' in (made.suite_dir / "conftest.py").read_text()
    assert not (work / ".ruff_cache").exists() and list(work.iterdir()) == []


# ---- operations Luna cannot call with values of its own (tasks/discovery/needs.py) ---------


def test_a_required_server_issued_value_marks_the_operation_needs_input() -> None:
    def param(name: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "in": "query", "schema": {"type": "string"}, **extra}

    found = from_openapi(
        spec(
            {
                "/events/next": {"get": {"parameters": [param("page-token", required=True)]}},
                "/books": {"get": {"parameters": [param("cursor"), param("q", required=True)]}},
                "/given": {"get": {"parameters": [param("nextCursor", required=True, example="abc")]}},
                "/invites/{inviteToken}": {"get": {"parameters": [{**param("inviteToken"), "in": "path"}]}},
                "/csrf-token": {"get": {"parameters": [param("client", required=True)]}},
            }
        ),
        source="spec.json",
    )
    marks = {e.path.split("?")[0]: e.needs_input for e in found.endpoints}
    assert marks["/events/next"] == "'page-token' is a value the server issues (token), which cannot be made up"
    assert marks["/invites/sample"] is not None and "inviteToken" in marks["/invites/sample"]
    assert marks["/csrf-token"] is not None and "anti-forgery" in marks["/csrf-token"]
    assert marks["/books"] is None  # an optional cursor is left out, and q can be anything
    assert marks["/given"] is None  # the spec gives a value
    (warning,) = [w for w in found.warnings if "needs_input" in w]
    assert "marked 3 operations needs_input" in warning and "GET /events/next" in warning
    data = merge([found], service="s")
    assert {e["path"] for e in data["endpoints"] if e.get("needs_input")} == {
        e.path for e in found.endpoints if e.needs_input
    }
    assert parse_catalog(data, source="s").needs_input()  # the endpoints file keeps the mark


def test_a_spec_without_operations_is_refused_by_name_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An OpenAPI file with no paths: one line that names the file and says what to do, no
    endpoints file (it would not load), exit code 2, no traceback."""
    from app.cli.main import main as cli_main

    empty = tmp_path / "empty.json"
    empty.write_text(spec({}), encoding="utf-8")
    out = tmp_path / "endpoints.json"
    assert cli_main(["discover", str(empty), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("luna: discovery error: invalid: no endpoints found") and len(err.splitlines()) == 1
    assert f"(at {empty})" in err and "Tip: check that this is the API's spec" in err
    assert not out.exists()
