"""OpenAPI 3.0/3.1 and Swagger 2.0 discovery: the demo API's own spec, hand-written specs,
every loader error kind, and fuzzing (only Discovery or LoaderError may come out)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.demo import create_app
from tasks.discovery import model
from tasks.discovery.merge import merge
from tasks.discovery.model import Discovery, LoaderError
from tasks.discovery.openapi import from_openapi
from tasks.discovery.schema_sample import FIXED_UUID

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data" / "openapi"
DEMO_SPEC: dict[str, Any] = create_app().openapi()


def by_name(discovery: Discovery) -> dict[str, Any]:
    return {ep.name: ep for ep in discovery.endpoints}


def loader_error(document: bytes | str, **kwargs: Any) -> LoaderError:
    with pytest.raises(LoaderError) as info:
        from_openapi(document, source=kwargs.pop("source", "spec"), **kwargs)
    return info.value


# --- the demo API -------------------------------------------------------------------------


def test_demo_spec_becomes_endpoints() -> None:
    discovery = from_openapi(json.dumps(DEMO_SPEC), source="demo.json")
    assert discovery.kind == "openapi"
    assert discovery.title == "Luna demo API"
    eps = by_name(discovery)
    assert (eps["listUsers"].method, eps["listUsers"].path) == ("GET", "/api/users?limit=20")
    create = eps["createUser"]
    assert create.method == "POST" and create.path == "/api/users"
    assert create.body == {"name": "Ada Lovelace", "email": "ada@example.com"}
    assert create.checks == {"status": 201}
    assert "operation createUser has no example; generated a body from its schema" in discovery.warnings
    assert eps["getUser"].path == "/api/users/1"
    assert eps["getUser"].group == "users"
    assert eps["searchUsers"].path.startswith("/api/search?q=")
    graphql = eps["graphql"]
    assert (graphql.type, graphql.path, graphql.body) == ("graphql", "/graphql", None)
    assert graphql.query and "agents" in graphql.query
    assert eps["getUser"].source == "demo.json#/paths/~1api~1users~1{user_id}/get"
    assert not any(ep.destructive for ep in discovery.endpoints)


def test_demo_spec_merges_into_a_valid_endpoints_file() -> None:
    discovery = from_openapi(json.dumps(DEMO_SPEC).encode(), source="demo.json")
    data = merge([discovery], service="demo")
    paths = {(e["method"], e["path"]) for e in data["endpoints"]}
    assert ("GET", "/api/users/1") in paths and ("POST", "/graphql") in paths
    assert {e["name"] for e in data["endpoints"]} >= {"listUsers", "createUser", "graphql"}


def test_demo_security_schemes_map_to_luna_auth_settings() -> None:
    warnings = " | ".join(from_openapi(json.dumps(DEMO_SPEC), source="demo.json").warnings)
    assert "AUTH_TOKEN" in warnings
    assert "AUTH_BASIC_USER and AUTH_BASIC_PASS" in warnings
    assert "AUTH_API_KEY_HEADER=X-API-Key" in warnings
    assert "AUTH_CLIENT_SECRET" in warnings
    assert warnings.count("security scheme 'bearerAuth'") == 1


# --- Swagger 2.0 ---------------------------------------------------------------------------


def test_swagger2_yaml() -> None:
    discovery = from_openapi((DATA / "tree-swagger2.yaml").read_bytes(), source="tree.yaml")
    assert discovery.kind == "swagger"
    assert discovery.base_url == "https://api.example.com"
    eps = by_name(discovery)
    listing = eps["listNodes"]
    assert listing.path == "/v2/nodes?depth=1"
    assert listing.headers == {"X-Request-Source": "luna"}  # Authorization left to Luna's auth
    assert listing.group == "nodes"
    create = eps["createNode"]
    assert create.checks == {"status": 200}  # the lowest 2xx, YAML int keys included
    body = create.body
    # Node.children: [Node] is recursive: sampling stops instead of looping
    depth = 0
    while body["children"] and body["children"][0]:
        body, depth = body["children"][0], depth + 1
    assert depth == 2  # Node expanded three times, the innermost children left empty
    get_one = eps["GET_/nodes/{node~id}"]
    assert get_one.path == f"/v2/nodes/{FIXED_UUID}"
    assert get_one.group == "nodes"
    assert get_one.source == "tree.yaml#/paths/~1nodes~1{node~0id}/get"
    delete = eps["deleteNode"]
    assert delete.destructive and delete.method == "DELETE" and delete.checks == {"status": 204}
    warnings = " | ".join(discovery.warnings)
    assert "'bearer' (token in the Authorization header): set AUTH_TOKEN" in warnings
    assert "AUTH_API_KEY_HEADER=X-Store-Key" in warnings
    assert "AUTH_BASIC_USER" in warnings


def test_swagger2_delete_is_kept_but_marked_destructive() -> None:
    discovery = from_openapi((DATA / "tree-swagger2.yaml").read_text(), source="tree.yaml")
    marked = {e["method"]: e.get("destructive", False) for e in merge([discovery], service="tree")["endpoints"]}
    assert marked["DELETE"] is True and marked["GET"] is False
    unmarked = merge([discovery], service="tree", include_destructive=True)["endpoints"]
    assert not any("destructive" in e for e in unmarked)  # opted in: written as ordinary endpoints


# --- OpenAPI 3.1 with remote refs ---------------------------------------------------------

ORDER_SCHEMA = json.dumps(
    {"Order": {"type": "object", "required": ["quantity"], "properties": {"quantity": {"type": "integer"}}}}
).encode()


def test_openapi31_servers_examples_enum_allof_and_same_origin_ref() -> None:
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return {"https://shop.example.com:8443/schemas/order.json": ORDER_SCHEMA}[url]

    discovery = from_openapi(
        (DATA / "orders-openapi31.yaml").read_bytes(),
        source="https://shop.example.com:8443/openapi.yaml",
        fetch=fetch,
        allowed_origin="https://shop.example.com:8443",
    )
    assert discovery.base_url == "https://shop.example.com:8443"
    eps = by_name(discovery)
    assert eps["listOrders"].path == "/v1/orders/open?page=2"  # enum[0]; optional 'filter' left out
    assert eps["createOrder"].body == {"item": "widget", "quantity": 1}
    assert eps["createOrder"].checks == {"status": 201}
    replace = eps["replaceOrder"].body
    assert replace == {
        "id": FIXED_UUID,
        "kind": "retail",
        "placed": "2024-01-01T00:00:00Z",
        "contact": "user@example.com",
        "quantity": 1,
    }
    assert fetched == ["https://shop.example.com:8443/schemas/order.json"]  # response schemas stay unread
    assert "operation replaceOrder has no example; generated a body from its schema" in discovery.warnings
    assert not any("createOrder has no example" in w for w in discovery.warnings)


def test_openapi31_ref_to_another_origin_is_refused() -> None:
    text = (
        (DATA / "orders-openapi31.yaml")
        .read_text()
        .replace('"schemas/order.json#/Order"', '"https://evil.example.net/order.json#/Order"')
    )
    err = loader_error(
        text,
        source="https://shop.example.com:8443/openapi.yaml",
        fetch=lambda url: ORDER_SCHEMA,
        allowed_origin="https://shop.example.com:8443",
    )
    assert err.loader_kind == "reference"
    assert "evil.example.net" in err.message
    assert err.tip and "origin" in err.tip
    assert err.location and "/put" in err.location


def test_relative_ref_without_fetch_is_a_reference_error() -> None:
    err = loader_error((DATA / "orders-openapi31.yaml").read_bytes(), source="tree.yaml")
    assert err.loader_kind == "reference"


# --- error kinds ---------------------------------------------------------------------------


@pytest.mark.parametrize("document", ["{not json", 'openapi: "3.0.0"\npaths: [unclosed', b"\xff\xfe\x00junk"])
def test_syntax_errors(document: str | bytes) -> None:
    err = loader_error(document)
    assert err.loader_kind == "syntax"


def test_syntax_error_has_line_and_column() -> None:
    err = loader_error('{\n  "openapi": "3.0.0",\n  "paths": {,}\n}')
    assert err.loader_kind == "syntax" and err.location == "spec:3:13"


@pytest.mark.parametrize(
    "document",
    ["[]", '"text"', "{}", '{"openapi": "4.0.0", "paths": {}}', '{"swagger": "1.2"}', '{"openapi": "2.0"}'],
)
def test_format_errors(document: str) -> None:
    assert loader_error(document).loader_kind == "format"


@pytest.mark.parametrize(
    "spec",
    [
        {"openapi": "3.0.0", "paths": []},
        {"openapi": "3.0.0", "paths": {"/a": {"get": "nope"}}},
        {"openapi": "3.0.0", "paths": {"/a": []}},
        {"openapi": "3.0.0", "paths": {"a": {}}},
        {"openapi": "3.0.0", "paths": {"/a": {"get": {"parameters": {}}}}},
        {"openapi": "3.0.0", "paths": {"/a": {"post": {"requestBody": {"content": []}}}}},
    ],
)
def test_invalid_errors(spec: dict[str, Any]) -> None:
    err = loader_error(json.dumps(spec))
    assert err.loader_kind == "invalid"


def test_missing_local_ref_names_the_pointer() -> None:
    spec = {
        "openapi": "3.0.3",
        "paths": {
            "/users": {
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Gone"}}}}
                }
            }
        },
    }
    err = loader_error(json.dumps(spec), source="api.json")
    assert err.loader_kind == "reference"
    assert err.location == "api.json#/paths/~1users/post"
    assert "#/components/schemas/Gone" in err.message


def test_escaped_local_ref_and_ref_cycle() -> None:
    schemas = {"a/b~c": {"type": "object", "required": ["x"], "properties": {"x": {"type": "boolean"}}}}
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/a~1b~0c"}}}}
    spec = {"openapi": "3.0.0", "components": {"schemas": schemas}, "paths": {"/p": {"post": {"requestBody": body}}}}
    assert from_openapi(json.dumps(spec), source="s").endpoints[0].body == {"x": True}
    spec["components"] = {"schemas": {"A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "#/components/schemas/A"}}}
    body["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/A"}
    err = loader_error(json.dumps(spec))
    assert err.loader_kind == "reference" and "circular" in err.message


def test_too_large_names_the_setting() -> None:
    with model.DiscoveryLimits(max_bytes=10).active():
        err = loader_error(json.dumps({"openapi": "3.0.0", "paths": {}}))
    assert err.loader_kind == "too_large"
    assert "LUNA_DISCOVERY_MAX_BYTES" in err.message and "LUNA_DISCOVERY_MAX_BYTES" in (err.tip or "")


def test_recursive_yaml_alias_example_is_unsafe_not_a_crash() -> None:
    text = (
        "openapi: 3.0.0\npaths:\n  /a:\n    post:\n      requestBody:\n        content:\n"
        "          application/json:\n            example: &loop [*loop]\n"
    )
    assert loader_error(text).loader_kind == "unsafe"


# --- fuzzing -------------------------------------------------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(
            ["/a", "/b/{id}", "get", "post", "delete", "parameters", "in", "name", "schema", "$ref",
             "requestBody", "content", "application/json", "responses", "200", "type", "items",
             "properties", "required", "allOf", "oneOf", "example", "examples", "value", "path", "query"]
        )
        | st.text(max_size=6),
        children,
        max_size=4,
    ),
    max_leaves=30,
)  # fmt: skip


def only_discovery_or_loader_error(document: str | bytes) -> None:
    try:
        result = from_openapi(document, source="fuzz")
    except LoaderError:
        return
    assert isinstance(result, Discovery)
    if result.endpoints:
        merge([result], service="fuzz", include_destructive=True)  # always a valid endpoints file


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSONISH)
def test_fuzz_paths_value(paths: Any) -> None:
    only_discovery_or_loader_error(json.dumps({"openapi": "3.0.0", "paths": paths}))


@settings(max_examples=1000, deadline=None)
@given(st.text())
def test_fuzz_raw_text(text: str) -> None:
    only_discovery_or_loader_error(text)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_demo_spec(data: st.DataObject) -> None:
    spec = json.loads(json.dumps(DEMO_SPEC))
    for _ in range(data.draw(st.integers(1, 6))):
        node: Any = spec
        while True:  # walk down to a random container
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = data.draw(st.sampled_from(keys))
            child = node[key]
            if isinstance(child, dict | list) and child and data.draw(st.booleans()):
                node = child
                continue
            if isinstance(node, dict) and data.draw(st.booleans()):
                del node[key]
            else:
                node[key] = data.draw(JSONISH)
            break
    only_discovery_or_loader_error(json.dumps(spec))
