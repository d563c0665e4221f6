"""Unit tests for the Postman and HAR discovery loaders, plus fuzzing of both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from luna.catalog import parse_catalog
from tasks.discovery.har import from_har, template
from tasks.discovery.merge import merge
from tasks.discovery.model import MAX_DOCUMENT_BYTES, Discovery, LoaderError
from tasks.discovery.postman import from_postman

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data" / "discovery"
COLLECTION = (DATA / "shop.postman_collection.json").read_bytes()
ENVIRONMENT = (DATA / "shop.postman_environment.json").read_text()
LEGACY = (DATA / "legacy.postman_collection_v2.0.json").read_text()
HAR = (DATA / "app.har").read_bytes()
SECRETS = (
    "coll-secret-token-XYZ",
    "header-secret-ABC",
    "basic-secret-PW",
    "env-secret-KEY-123",
    "sess-secret-999",
    "apikey-secret-777",
    "cookie-secret-SID",
    "bearer-secret-JWT",
    "csrf-secret-CSRF",
    "apikey-secret-KEY",
    "session-secret-SES",
    "query-secret-TOK",
)


def by_name(discovery: Discovery) -> dict[str, Any]:
    return {ep.name: ep for ep in discovery.endpoints}


def assert_no_secrets(discovery: Discovery) -> None:
    dumped = discovery.model_dump_json()
    leaked = [s for s in SECRETS if s in dumped]
    assert not leaked


def assert_mergeable(discovery: Discovery) -> dict[str, Any]:
    data = merge([discovery], service="x", include_destructive=True)
    parse_catalog(data, source="test")
    assert json.loads(json.dumps(data)) == data
    return data


# --- Postman -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop() -> Discovery:
    return from_postman(COLLECTION, source="shop.json", environment=ENVIRONMENT)


def test_postman_v21_endpoints(shop: Discovery) -> None:
    assert shop.kind == "postman"
    assert shop.title == "Shop API"
    # the environment's baseUrl wins over the collection's; the host part is dropped
    assert shop.base_url == "https://staging.shop.example.com/api/v2"
    eps = by_name(shop)
    assert list(eps) == [
        "List products",
        "Get product",
        "Add review",
        "Login form",
        "Delete account",
        "Note",
        "Product query",
    ]
    listing = eps["List products"]
    assert (listing.group, listing.method, listing.path) == ("Products", "GET", "/products?limit=20")
    assert listing.headers == {"Accept": "application/json"}  # disabled X-Debug skipped
    assert listing.checks == {"status": 200}
    assert listing.source == "shop.json#/item/0/item/0"
    # productId from the collection (the environment's is disabled); 404 example -> no check
    assert eps["Get product"].path == "/products/42"
    assert eps["Get product"].checks == {}


def test_postman_bodies(shop: Discovery) -> None:
    eps = by_name(shop)
    review = eps["Add review"]
    assert review.group == "Products/Reviews"
    assert review.body == {"productId": 42, "stars": 5, "text": "Great"}
    assert review.headers == {"Content-Type": "application/json"}  # Authorization dropped
    assert review.checks == {"status": 201}
    login = eps["Login form"]
    assert login.body == "grant_type=client_credentials&scope=read+write"
    assert login.headers == {"Content-Type": "application/x-www-form-urlencoded"}
    note = eps["Note"]
    assert (note.method, note.body, note.headers) == ("PUT", "hello 42", {"Content-Type": "text/plain"})
    gql = eps["Product query"]
    assert gql.type == "graphql" and gql.body is None and gql.group == "default"
    assert gql.query == "query Product($id: ID!) { product(id: $id) { name price } }"
    assert gql.variables == {"id": "42"}
    assert gql.checks == {"status": 200}


def test_postman_auth_variables_and_destructive(shop: Discovery) -> None:
    eps = by_name(shop)
    delete = eps["Delete account"]
    assert delete.destructive and delete.method == "DELETE"
    assert delete.path == "/account/{{missingVar}}"
    assert "variable {{missingVar}} is not defined; it was left in place" in shop.warnings
    assert any("bearer auth: set AUTH_TOKEN" in w for w in shop.warnings)
    assert "request 'Login form' uses basic auth: set AUTH_BASIC_USER and AUTH_BASIC_PASS" in shop.warnings
    # noauth on the request overrides the folder's basic auth
    assert not any("'Delete account' uses" in w for w in shop.warnings)
    assert not any(ep.destructive for name, ep in eps.items() if name != "Delete account")
    assert_no_secrets(shop)
    data = assert_mergeable(shop)
    assert [e["name"] for e in data["endpoints"]][:3] == ["List_products", "Get_product", "Add_review"]
    assert {e["name"]: e.get("destructive", False) for e in merge([shop], service="x")["endpoints"]}["Delete_account"]


def test_postman_v20_collection() -> None:
    legacy = from_postman(LEGACY, source="legacy.json")
    assert legacy.base_url == "https://legacy.example.com"
    health, create = legacy.endpoints
    assert (health.name, health.path, health.checks) == ("Health", "/health", {"status": 200})
    assert (create.method, create.path, create.body) == ("POST", "/things", {"name": "thing"})
    assert create.headers == {"Content-Type": "application/json"}
    assert "request 'Create thing' uses API key auth: set AUTH_API_KEY and AUTH_API_KEY_HEADER" in legacy.warnings
    assert_no_secrets(legacy)
    assert_mergeable(legacy)


def test_postman_without_environment_keeps_collection_base() -> None:
    shop = from_postman(COLLECTION, source="shop.json")
    assert shop.base_url == "https://staging.shop.example.com/api"
    assert by_name(shop)["List products"].path == "/products?limit=20"
    assert_no_secrets(shop)


def _collection(item: Any, schema: str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json") -> str:
    return json.dumps({"info": {"name": "t", "schema": schema}, "item": item})


def test_postman_url_object_and_raw_json_fallback() -> None:
    item = [
        {
            "name": "u",
            "request": {
                "method": "post",
                "url": {
                    "raw": "http://localhost:8080/a/:id?x=1",
                    "protocol": "http",
                    "host": ["localhost"],
                    "port": "8080",
                    "path": ["a", ":id"],
                    "query": [{"key": "x", "value": "1"}, {"key": "y", "value": "2", "disabled": True}],
                    "variable": [{"key": "id", "value": "7"}],
                },
                "body": {"mode": "raw", "raw": "{not json", "options": {"raw": {"language": "json"}}},
            },
        }
    ]
    (ep,) = from_postman(_collection(item), source="c").endpoints
    assert (ep.method, ep.path, ep.body) == ("POST", "/a/7?x=1", "{not json")
    assert ep.headers == {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("document", "kind"),
    [
        ("{", "syntax"),
        (b"\xff\xfe", "syntax"),
        ("[]", "format"),
        ('{"info": {"schema": "https://schema.getpostman.com/json/collection/v1.0.0/"}}', "format"),
        (_collection({"a": 1}), "invalid"),
        (_collection([1]), "invalid"),
        (_collection([{"name": "x", "request": {"url": 5}}]), "invalid"),
    ],
)
def test_postman_errors(document: str | bytes, kind: str) -> None:
    with pytest.raises(LoaderError) as info:
        from_postman(document, source="c.json")
    assert info.value.loader_kind == kind
    assert info.value.location and info.value.location.startswith("c.json")


def test_size_limit() -> None:
    big = " " * (MAX_DOCUMENT_BYTES + 1)
    for loader in (from_postman, from_har):
        with pytest.raises(LoaderError) as info:
            loader(big, source="big")
        assert info.value.loader_kind == "too_large"


# --- HAR -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app() -> Discovery:
    return from_har(HAR, source="app.har")


def test_har_filters_and_templates(app: Discovery) -> None:
    assert app.kind == "har" and app.base_url == "https://app.example.com"
    eps = by_name(app)
    assert list(eps) == [
        "GET_root",  # the page the user navigated to is kept, for the browser stages
        "GET_api_users_id",
        "POST_api_orders",
        "GET_api_orders_id_items_id2",
        "DELETE_api_orders_id",
        "graphql_Me",
        "graphql_Order",
        "POST_api_search",
    ]
    users = eps["GET_api_users_id"]
    assert users.path == "/api/users/123?expand=orders"  # first concrete path, token param dropped
    assert users.weight == 2.0  # the call that was a 404 in the recording is left out, and named
    assert users.checks == {"status": 200}
    assert users.group == "users"
    assert users.source == "app.har#/log/entries/6 (template /api/users/{id}, seen 2x)"
    assert (
        "left out 1 entries that failed in the recording (404 or 5xx): GET /api/users/789 (404); "
        "they would fail the run, not measure it" in app.warnings
    )
    assert users.headers == {"Accept": "application/json", "X-Tenant": "acme"}
    nested = eps["GET_api_orders_id_items_id2"]
    assert nested.path == "/api/orders/3fa85f64-5717-4562-b3fc-2c963f66afa6/items/5f1d7c2ab9e8d40012345678"
    assert "template /api/orders/{id}/items/{id2}" in nested.source
    assert eps["DELETE_api_orders_id"].destructive
    assert eps["DELETE_api_orders_id"].checks == {"status": 204}
    assert (eps["GET_root"].group, eps["GET_root"].response_type) == ("pages", "text/html")
    assert "left out 1 preflight/other, 4 static, 1 third-party entries (target origin https://app.example.com)" in (
        app.warnings
    )


def test_har_bodies_and_graphql(app: Discovery) -> None:
    eps = by_name(app)
    orders = eps["POST_api_orders"]
    assert orders.body == {"sku": "A-1", "quantity": 2}
    assert orders.headers == {"Content-Type": "application/json"}  # Content-Length dropped
    assert orders.checks == {"status": 201}
    search = eps["POST_api_search"]
    assert search.body == "q=shoes&page=1"
    assert search.headers == {"Content-Type": "application/x-www-form-urlencoded"}
    me, order = eps["graphql_Me"], eps["graphql_Order"]
    assert (me.type, me.path, me.query, me.variables, me.body) == (
        "graphql",
        "/graphql",
        "query Me { me { id name } }",
        None,
        None,
    )
    assert order.variables == {"id": "9"}
    assert_no_secrets(app)
    data = assert_mergeable(app)
    assert len(data["endpoints"]) == 8
    assert {e["name"] for e in merge([app], service="x")["endpoints"] if e.get("destructive")} == {
        "DELETE_api_orders_id"
    }


def test_har_explicit_target_origin() -> None:
    third = from_har(HAR, source="app.har", target_origin="https://www.google-analytics.com/")
    assert third.base_url == "https://www.google-analytics.com"
    (ep,) = third.endpoints
    assert (ep.name, ep.path, ep.checks) == ("GET_collect", "/collect?v=1&tid=UA-1", {"status": 204})


def test_template() -> None:
    assert template("/users/123") == template("/users/456") == "/users/{id}"
    assert template("/a/deadbeefdeadbeef00/b/7") == "/a/{id}/b/{id2}"
    assert template("/users/me") == "/users/me"


@pytest.mark.parametrize(
    ("document", "kind"),
    [
        ("nope", "syntax"),
        ('{"log": {}}', "format"),
        ('{"log": {"version": "2.0", "entries": []}}', "format"),
        ('{"log": {"entries": [{"request": {"method": "GET"}}]}}', "invalid"),
        ('{"log": {"entries": [{"request": {"method": "GET", "url": "http://h/"}, "response": 3}]}}', "invalid"),
    ],
)
def test_har_errors(document: str, kind: str) -> None:
    with pytest.raises(LoaderError) as info:
        from_har(document, source="x.har")
    assert info.value.loader_kind == kind


def test_har_empty() -> None:
    result = from_har('{"log": {"version": "1.2", "entries": []}}', source="x.har")
    assert result.endpoints == [] and result.base_url is None


# --- fuzzing -------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
# values shaped like the real thing, so the fuzzer reaches past the first type check
keys = st.sampled_from(
    ["item", "request", "url", "method", "header", "body", "mode", "raw", "auth", "type", "name", "key", "value"]
    + ["response", "code", "path", "query", "host", "graphql", "variables", "urlencoded", "disabled", "variable"]
    + ["postData", "text", "mimeType", "headers", "status", "content", "_resourceType", "params", "protocol"]
)
texts = st.sampled_from(
    ["GET", "POST", "DELETE", "raw", "graphql", "urlencoded", "bearer", "apikey", "{{x}}"]
) | st.text(max_size=12)
urls = st.sampled_from(["http://h/a/1", "https://h/x.js", "{{base}}/p?q=1", "http://[::1", "http://h:99999/", "/a"])
shaped = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-1, max_value=600) | texts | urls,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=6),
    max_leaves=40,
)
kv = st.lists(
    st.fixed_dictionaries(
        {"key": texts, "value": shaped}, optional={"disabled": st.booleans(), "enabled": st.booleans()}
    ),
    max_size=3,
)
body = st.fixed_dictionaries(
    {"mode": st.sampled_from(["raw", "urlencoded", "graphql", "formdata", "file"]) | texts},
    optional={"raw": texts | shaped, "urlencoded": kv | shaped, "graphql": shaped, "options": shaped},
)
request = st.fixed_dictionaries(
    {
        "url": urls
        | shaped
        | st.fixed_dictionaries({"raw": urls}, optional={"path": shaped, "query": kv, "host": shaped})
    },
    optional={"method": texts, "header": kv | texts, "body": body | shaped, "auth": shaped},
)
postman_items = st.recursive(
    st.lists(st.fixed_dictionaries({"name": texts, "request": request}, optional={"response": shaped}), max_size=3),
    lambda children: st.lists(st.fixed_dictionaries({"name": texts, "item": children}), max_size=3),
    max_leaves=6,
)
har_entries = st.lists(
    st.fixed_dictionaries(
        {
            "request": st.fixed_dictionaries(
                {"method": texts, "url": urls}, optional={"headers": shaped, "postData": shaped}
            )
        },
        optional={"response": shaped, "_resourceType": texts},
    ),
    max_size=5,
)
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _only_loader_errors(call: Any) -> None:
    try:
        result = call()
    except LoaderError:
        return
    assert isinstance(result, Discovery)
    assert all(ep.path.startswith("/") for ep in result.endpoints)
    if result.endpoints:  # whatever a loader accepts must make a valid endpoints file
        merge([result], service="fuzz", include_destructive=True)


@FUZZ
@given(st.text())
def test_fuzz_postman_text(text: str) -> None:
    _only_loader_errors(lambda: from_postman(text, source="f", environment=text))


@FUZZ
@given(st.text())
def test_fuzz_har_text(text: str) -> None:
    _only_loader_errors(lambda: from_har(text, source="f"))


@FUZZ
@given(st.one_of(json_values, shaped, postman_items), st.one_of(st.none(), shaped, kv))
def test_fuzz_postman_structures(value: Any, env: Any) -> None:
    document = json.dumps({"info": {"schema": "https://schema.getpostman.com/json/collection/v2.1.0/"}, "item": value})
    environment = None if env is None else json.dumps({"values": env})
    _only_loader_errors(lambda: from_postman(document, source="f", environment=environment))


@FUZZ
@given(st.one_of(json_values, shaped, har_entries), st.one_of(st.none(), urls))
def test_fuzz_har_structures(value: Any, target: str | None) -> None:
    document = json.dumps({"log": {"version": "1.2", "entries": value}})
    _only_loader_errors(lambda: from_har(document, source="f", target_origin=target))
