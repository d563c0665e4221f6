"""Unit tests for the WSDL and GraphQL loaders and source detection, plus fuzzing of both."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from graphql import build_schema, graphql_sync, parse, validate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.demo.graphql_schema import SDL
from tasks.discovery.graphql import from_graphql, introspection_body
from tasks.discovery.merge import merge
from tasks.discovery.model import Discovery, LoaderError, mark_production_writes, production_looking
from tasks.discovery.sources import detect, load_source
from tasks.discovery.wsdl import from_wsdl
from tests.unit.test_discovery_postman_har import _only_loader_errors

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data" / "discovery"
CALCULATOR = (DATA / "calculator.wsdl").read_bytes()
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---- WSDL -------------------------------------------------------------------------------


def test_document_literal_operations_become_soap_posts() -> None:
    found = from_wsdl(CALCULATOR, source="calc.wsdl")
    assert found.kind == "wsdl" and found.title == "Calculator"
    assert found.base_url == "http://calc.example.test"
    add, convert = found.endpoints
    assert (add.name, add.method, add.path, add.group) == ("Add", "POST", "/calculator.asmx", "Calculator")
    assert add.headers == {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"http://tempuri.org/Add"'}
    assert add.checks == {"status": 200, "body_contains": "AddResponse"}
    assert "<tns:Add><tns:intA>1</tns:intA><tns:intB>1</tns:intB></tns:Add>" in add.body
    assert 'xmlns:tns="http://tempuri.org/"' in add.body
    # enumeration -> its first value; default kept; a recursive optional element left out
    assert "<tns:unit>km</tns:unit>" in convert.body
    assert "<tns:when>2020-02-02T00:00:00Z</tns:when>" in convert.body
    assert "<tns:note><tns:text>string</tns:text></tns:note>" in convert.body
    # the SOAP 1.2 binding repeats the same portType: tested once, with a warning
    assert any("SOAP 1.2" in w for w in found.warnings)


def test_soap_operations_sharing_a_url_survive_the_merge() -> None:
    data = merge([from_wsdl(CALCULATOR, source="calc.wsdl")], service="calc")
    assert [e["name"] for e in data["endpoints"]] == ["Add", "Convert"]
    assert all(isinstance(e["body"], str) and e["body"].startswith("<?xml") for e in data["endpoints"])


def test_soap12_only_service_uses_the_action_content_type() -> None:
    soap12_only = re.sub(rb"<wsdl:port name=\"CalculatorSoap\" .*?</wsdl:port>", b"", CALCULATOR, flags=re.S)
    (add,) = from_wsdl(soap12_only, source="calc12.wsdl").endpoints
    assert add.headers == {"Content-Type": 'application/soap+xml; charset=utf-8; action="http://tempuri.org/Add"'}
    assert 'xmlns:soap="http://www.w3.org/2003/05/soap-envelope"' in add.body


RPC = b"""<?xml version="1.0"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:stock" targetNamespace="urn:stock" name="Stock">
  <message name="GetPriceIn"><part name="symbol" type="xsd:string"/><part name="day" type="xsd:date"/></message>
  <message name="GetPriceOut"><part name="price" type="xsd:float"/></message>
  <portType name="StockPort"><operation name="GetPrice"><input message="tns:GetPriceIn"/>
    <output message="tns:GetPriceOut"/></operation></portType>
  <binding name="StockBinding" type="tns:StockPort"><soap:binding style="rpc"/>
    <operation name="GetPrice"><soap:operation soapAction="urn:stock#GetPrice"/>
      <input><soap:body use="encoded" namespace="urn:stock:rpc"/></input></operation></binding>
  <service name="StockService"><port name="P" binding="tns:StockBinding">
    <soap:address location="/soap/stock?v=1"/></port></service>
</definitions>"""


def test_rpc_style_wraps_parts_in_the_operation_element() -> None:
    (op,) = from_wsdl(RPC, source="http://127.0.0.1:9/stock?wsdl").endpoints
    assert op.path == "/soap/stock?v=1"
    assert "<tns:GetPrice><symbol>string</symbol><day>2024-01-01</day></tns:GetPrice>" in op.body
    assert 'xmlns:tns="urn:stock:rpc"' in op.body
    assert op.checks["body_contains"] == "GetPriceResponse"


@pytest.mark.parametrize(
    ("document", "kind", "where"),
    [
        (b"<definitions", "syntax", ":1:"),
        (b"<a><b></a>", "syntax", ":1:"),
        (b'<?xml version="1.0"?><root/>', "format", ""),
        (b'<description xmlns="http://www.w3.org/ns/wsdl"/>', "format", ""),
        (b'<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"/>', "invalid", ""),
        (
            b'<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:s="http://schemas.xmlsoap.org/wsdl/soap/" '
            b'xmlns:t="urn:x" targetNamespace="urn:x"><service name="S"><port name="P" binding="t:Nope">'
            b'<s:address location="http://h/x"/></port></service></definitions>',
            "invalid",
            "",
        ),
    ],
)
def test_wsdl_errors_are_classified(document: bytes, kind: str, where: str) -> None:
    with pytest.raises(LoaderError) as caught:
        from_wsdl(document, source="svc.wsdl")
    assert caught.value.loader_kind == kind
    assert caught.value.location is not None and caught.value.location.startswith("svc.wsdl" + where)
    assert caught.value.tip


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/">&lol3;</definitions>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" name="&xxe;"/>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE definitions SYSTEM "http://127.0.0.1:9/evil.dtd">
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"/>"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD])
def test_xml_bombs_and_external_entities_are_unsafe(document: bytes) -> None:
    with pytest.raises(LoaderError) as caught:
        from_wsdl(document, source="evil.wsdl")
    assert caught.value.loader_kind == "unsafe"
    assert "root:" not in str(caught.value)


def test_wsdl_size_limit() -> None:
    from tasks.discovery.model import DiscoveryLimits

    with DiscoveryLimits(max_bytes=100).active(), pytest.raises(LoaderError) as caught:
        from_wsdl(CALCULATOR, source="big.wsdl")
    assert caught.value.loader_kind == "too_large"


@FUZZ
@given(st.text())
def test_fuzz_wsdl_text(text: str) -> None:
    _only_loader_errors(lambda: from_wsdl(text, source="f"))


@FUZZ
@given(st.data())
def test_fuzz_mutated_wsdl(data: st.DataObject) -> None:
    """Cut, duplicate or replace pieces of a real WSDL: well-formed but wrong, or broken XML."""
    doc = CALCULATOR.decode()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(doc)))
        j = data.draw(st.integers(i, min(len(doc), i + 80)))
        piece = data.draw(st.sampled_from(["", doc[i:j] * 2, "tns:", '"', "<", "/>", "ref=", 'minOccurs="0"']))
        doc = doc[:i] + piece + doc[j:]
    _only_loader_errors(lambda: from_wsdl(doc, source="f"))


# ---- GraphQL ----------------------------------------------------------------------------

SCHEMA = build_schema(SDL)
RICH_SDL = """
scalar DateTime
enum Colour { RED GREEN }
input Filter { colour: Colour!, after: DateTime, limit: Int = 5, tags: [String!]! }
interface Node { id: ID! }
type Tag { name: String! }
type Item implements Node { id: ID!, name: String, tags(first: Int!): [Tag!]!, owner: User, parts: [Part] }
type User implements Node { id: ID!, items: [Item!]!, best: Item }
union Part = Item | User
type Query { items(filter: Filter!, page: Int = 1): [Item!]!, node(id: ID!): Node, search(q: String): [Part!]! }
type Mutation { deleteItem(id: ID!): Boolean, renameItem(id: ID!, name: String!): Item }
type Subscription { itemChanged: Item }
"""


def test_demo_sdl_operations_validate_against_the_schema() -> None:
    found = from_graphql(SDL, source="demo.graphql")
    assert [e.name for e in found.endpoints] == ["query_agents", "query_agent", "query_boom", "mutation_createAgent"]
    for ep in found.endpoints:
        assert ep.type == "graphql" and ep.method == "POST" and ep.path == "/graphql"
        assert ep.checks == {"status": 200, "no_graphql_errors": True, "has_data": True}
        assert validate(SCHEMA, parse(ep.query)) == []
    by_name = {e.name: e for e in found.endpoints}
    assert by_name["query_agent"].variables == {"id": "1"}
    assert by_name["query_agents"].variables is None  # `limit` has a default: not required
    assert "id name status" in by_name["query_agents"].query


def test_depth_limit_arguments_unions_and_destructive_mutations() -> None:
    rich = build_schema(RICH_SDL)
    found = from_graphql(RICH_SDL, source="rich.graphql", max_depth=2)
    by_name = {e.name: e for e in found.endpoints}
    for ep in found.endpoints:
        assert validate(rich, parse(ep.query)) == [], ep.query
    items = by_name["query_items"]
    assert items.variables == {"filter": {"colour": "RED", "limit": 5, "tags": ["string"]}}
    assert "tags" not in items.query.split("items(filter: $filter)")[1]  # needs an argument: left out
    assert "owner { id }" in items.query  # one level down, then scalars only
    assert "search { __typename }" in by_name["query_search"].query
    assert by_name["mutation_deleteItem"].destructive and not by_name["mutation_renameItem"].destructive
    assert any("subscriptions" in w for w in found.warnings)
    deeper = from_graphql(RICH_SDL, source="rich.graphql", max_depth=3)
    assert "owner { id items {" in {e.name: e for e in deeper.endpoints}["query_items"].query


def test_introspection_json_in_both_shapes() -> None:
    result = graphql_sync(SCHEMA, json.loads(introspection_body())["query"])
    assert result.errors is None
    wrapped = from_graphql(json.dumps({"data": result.data}), source="i.json", path="/api/graphql")
    bare = from_graphql(json.dumps(result.data), source="i.json")
    assert [e.query for e in wrapped.endpoints] == [e.query for e in bare.endpoints]
    assert {e.path for e in wrapped.endpoints} == {"/api/graphql"}
    assert detect(json.dumps({"data": result.data}).encode(), "schema.json") == "graphql"


@pytest.mark.parametrize(
    ("document", "kind", "location"),
    [
        ("type Query { a: Int", "syntax", "s.graphql:1:"),
        ("type Query { a: Nope }", "invalid", "s.graphql"),
        ('{"data": {"__schema": {"types": []}}}', "invalid", "s.graphql"),
        ('{"data": {"other": 1}}', "format", "s.graphql"),
        ("type Foo { a: Int }", "invalid", "s.graphql"),
    ],
)
def test_graphql_errors_are_classified(document: str, kind: str, location: str) -> None:
    with pytest.raises(LoaderError) as caught:
        from_graphql(document, source="s.graphql")
    assert caught.value.loader_kind == kind
    assert caught.value.location is not None and caught.value.location.startswith(location)


@FUZZ
@given(st.text())
def test_fuzz_graphql_text(text: str) -> None:
    _only_loader_errors(lambda: from_graphql(text, source="f"))


@FUZZ
@given(st.data())
def test_fuzz_mutated_sdl(data: st.DataObject) -> None:
    doc = RICH_SDL
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(doc)))
        j = data.draw(st.integers(i, min(len(doc), i + 30)))
        doc = doc[:i] + data.draw(st.sampled_from(["", "!", "[", "}", "{", ":", "Query", "type X {}"])) + doc[j:]
    _only_loader_errors(lambda: from_graphql(doc, source="f"))


# ---- detection --------------------------------------------------------------------------


def test_files_are_routed_by_their_content(tmp_path: Path) -> None:
    (tmp_path / "calc.wsdl").write_bytes(CALCULATOR)
    (tmp_path / "schema.graphql").write_text(SDL)
    (tmp_path / "page.html").write_text("<!doctype html><html><body>hi</body></html>")
    assert load_source(str(tmp_path / "calc.wsdl")).kind == "wsdl"
    assert load_source(str(tmp_path / "schema.graphql")).kind == "graphql"
    with pytest.raises(LoaderError) as caught:
        load_source(str(tmp_path / "page.html"))
    assert caught.value.loader_kind == "format" and "base URL" in (caught.value.tip or "")


# ---- production-looking targets -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "production"),
    [
        ("http://127.0.0.1:8787", False),
        ("http://localhost:3000", False),
        ("http://10.1.2.3", False),
        ("http://[::1]:80", False),
        ("https://api.acme.test", False),
        ("https://staging-api.acme.com", False),
        ("https://api.dev.acme.io", False),
        ("https://qa.acme.com", False),
        ("http://intranet", False),
        ("https://api.acme.com", True),
        ("https://shop.acme.io/v1", True),
        ("https://203.0.113.9", False),  # documentation range (reserved)
        ("https://8.8.8.8", True),
        (None, False),
    ],
)
def test_production_looking(url: str | None, production: bool) -> None:
    assert production_looking(url) is production


def test_writes_on_a_production_looking_target_are_marked_destructive() -> None:
    def found() -> Discovery:
        return from_graphql(SDL, source="s.graphql")

    prod = found()
    assert mark_production_writes([prod], "https://api.acme.com") == 1  # the one mutation
    assert [e.name for e in prod.endpoints if e.destructive] == ["mutation_createAgent"]
    assert "looks like production" in prod.warnings[-1]
    assert [e["name"] for e in merge([prod], service="s")["endpoints"] if e.get("destructive")] == [
        "mutation_createAgent"
    ]
    local = found()
    assert mark_production_writes([local], "http://127.0.0.1:8787") == 0
    assert not any(e.destructive for e in local.endpoints)
    soap = from_wsdl(CALCULATOR, source="calc.wsdl")  # its own address is calc.example.test: not production
    assert mark_production_writes([soap]) == 0
