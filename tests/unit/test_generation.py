"""Generation stage, pure logic: literals and identifiers, path containment, the suite
spec (schemas matched to endpoints, pages), rendering, custom sections kept on
regeneration, stale files, JUnit parsing and budgets."""

from __future__ import annotations

import ast
import json
import keyword
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luna.catalog import parse_catalog
from tasks.discovery.model import DiscoveredEndpoint, Discovery
from tasks.generation.inputs import build_spec
from tasks.generation.lighthouse_run import check_budgets
from tasks.generation.model import Manifest
from tasks.generation.render import CUSTOM_BEGIN, CUSTOM_END
from tasks.generation.results import parse_junit
from tasks.generation.safe import (
    GenerationError,
    Names,
    comment_text,
    file_slug,
    identifier,
    inside,
    js_literal,
    js_number,
    py_literal,
)
from tasks.generation.suites import GenerateParams, list_suites
from tasks.generation.write import write_suite

pytestmark = pytest.mark.unit

HOSTILE = [
    "'\"\"\"'''\\",
    "`${process.exit(1)}`",
    "</script><script>alert(1)</script>",
    "line\nbreak\r\u2028\u2029\x85\x0b\x0c end",
    "{{ 7*7 }} {% if true %}x{% endif %} {# c #}",
    "__import__('os').system('touch PWNED')",
    "../../../etc/passwd",
    "🚀 ünïcödé \ud800",
    "*/ /* -->",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.sampled_from(HOSTILE),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_py_literal_round_trips(value: Any) -> None:
    assert ast.literal_eval(py_literal(value)) == value


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_js_literal_is_json_ascii_and_html_safe(value: Any) -> None:
    text = js_literal(value)
    assert text.isascii() and "\n" not in text and "</" not in text and "<!--" not in text
    if not _has_lone_surrogate(value):
        assert json.loads(text) == value


def _has_lone_surrogate(value: Any) -> bool:
    return "\ud800" in json.dumps(value)


def test_non_finite_numbers_never_reach_code() -> None:
    assert py_literal(float("inf")) == "None"
    assert js_literal({"a": float("nan")}) == '{"a": null}'
    with pytest.raises(GenerationError):
        js_number(float("inf"))


@pytest.mark.parametrize("text", HOSTILE)
def test_comment_text_is_one_ascii_line(text: str) -> None:
    out = comment_text(text)
    assert out.isascii() and len(out.splitlines()) <= 1 and "*/" not in out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text() | st.sampled_from(HOSTILE + ["class", "1abc", "", "match"]), max_size=8))
def test_identifiers_are_safe_and_unique(texts: list[str]) -> None:
    names = Names()
    out = [names.take(t, prefix="test_") for t in texts] + [Names().take(t) for t in texts]
    for name in out:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and not keyword.iskeyword(name)
    assert len(set(out[: len(texts)])) == len(texts)


def test_identifier_reads_like_the_name() -> None:
    assert identifier("listUsers", prefix="test_") == "test_list_users"
    assert identifier("class") == "class_"
    assert identifier("1st") == "_1st"


@pytest.mark.parametrize("text", HOSTILE)
def test_file_slugs_are_plain(text: str) -> None:
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*|x", file_slug(text))


def test_inside_refuses_escapes(tmp_path: Path) -> None:
    root = tmp_path / "suite"
    root.mkdir()
    assert inside(root, "api/test_x.py") == root.resolve() / "api" / "test_x.py"
    for bad in ("../x", "/etc/passwd", "api/../../x", "."):
        with pytest.raises(GenerationError):
            inside(root, bad)
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(GenerationError, match="outside"):
        inside(root, "link/evil.py")


# ---- spec building -------------------------------------------------------------------------


def _discovery() -> Discovery:
    schema = {"type": "object", "required": ["data"], "properties": {"data": {"type": "array"}}}
    return Discovery(
        source="spec.json",
        kind="openapi",
        title="Shop",
        endpoints=[
            DiscoveredEndpoint(name="home", group="pages", path="/", response_type="text/html", checks={"status": 200}),
            DiscoveredEndpoint(
                name="listItems",
                group="items",
                path="/items?limit=5",
                response_schema=schema,
                response_type="application/json",
            ),
            DiscoveredEndpoint(name="dropItem", group="items", method="DELETE", path="/items/1", destructive=True),
        ],
    )


def test_spec_from_discovery_has_schemas_pages_and_no_destructive() -> None:
    spec = build_spec(catalog=None, discoveries=[_discovery()], base_url="http://127.0.0.1:9/", pages=["/about"])
    assert spec.service == "Shop" and spec.slug == "shop" and spec.base_url == "http://127.0.0.1:9"
    assert [e.name for e in spec.endpoints] == ["home", "listItems"]
    assert spec.endpoints[1].response_schema is not None
    assert [p.path for p in spec.pages] == ["/", "/about"]


def test_endpoints_file_endpoints_get_schemas_by_method_and_path() -> None:
    catalog = parse_catalog(
        {
            "service": "Shop",
            "slos": {"p95_ms": 300},
            "endpoints": [
                {"name": "Items", "group": "g", "path": "/items", "slos": {"p95_ms": 100}},
                {"name": "Other", "group": "g", "path": "/other"},
            ],
        },
        source="t",
    )
    spec = build_spec(catalog=catalog, discoveries=[_discovery()], base_url="http://127.0.0.1:9")
    items, other = spec.endpoints
    assert items.response_schema is not None and other.response_schema is None
    assert items.slos.p95_ms == 100 and other.slos.p95_ms == 300


def test_nothing_to_generate_from_is_a_clear_error() -> None:
    with pytest.raises(GenerationError, match="nothing to generate"):
        build_spec(catalog=None, discoveries=[], base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="live URL"):
        GenerateParams()
    with pytest.raises(GenerationError, match="does not start"):
        build_spec(catalog=None, discoveries=[_discovery()], base_url="http://x", pages=["about"])


# ---- writing and regenerating --------------------------------------------------------------


def _spec(groups: tuple[str, ...] = ("items", "users")) -> Any:
    endpoints = [{"name": f"list_{g}", "group": g, "path": f"/{g}", "checks": {"status": 200}} for g in groups]
    catalog = parse_catalog({"service": "Shop", "endpoints": endpoints}, source="t")
    return build_spec(catalog=catalog, discoveries=[], base_url="http://127.0.0.1:9", pages=["/"])


def test_suite_layout_and_manifest(tmp_path: Path) -> None:
    made = write_suite(_spec(), tmp_path, ["api", "ui", "k6", "lighthouse"])
    suite = tmp_path / "shop"
    assert made.suite_dir == suite.resolve()
    expected = {
        "pytest.ini",
        "ruff.toml",
        "conftest.py",
        "luna-suite.json",
        "README.md",
        "api/luna_api.py",
        "api/conftest.py",
        "api/schemas.json",
        "api/test_api_items.py",
        "api/test_api_users.py",
        "api/test_api_custom.py",
        "ui/luna_ui.py",
        "ui/conftest.py",
        "ui/test_ui_pages.py",
        "ui/test_ui_custom.py",
        "k6/script.js",
        "lighthouse/desktop.json",
        "lighthouse/mobile.json",
        "lighthouse/lighthouse.json",
    }
    assert {str(p.relative_to(suite)) for p in suite.rglob("*") if p.is_file()} == expected
    manifest = Manifest.read(suite)
    assert manifest.kinds == ["api", "ui", "k6", "lighthouse"] and manifest.tests == {"api": 2, "ui": 1}
    assert [m.slug for _, m, _ in list_suites(tmp_path) if m] == ["shop"]
    for path in suite.rglob("*.py"):
        ast.parse(path.read_text(encoding="utf-8"))


def test_no_pages_means_no_ui_or_lighthouse(tmp_path: Path) -> None:
    catalog = parse_catalog({"service": "S", "endpoints": [{"name": "a", "group": "g", "path": "/a"}]}, source="t")
    spec = build_spec(catalog=catalog, discoveries=[], base_url="http://127.0.0.1:9")
    made = write_suite(spec, tmp_path, ["api", "ui", "k6", "lighthouse"])
    assert made.manifest is not None and made.manifest.kinds == ["api", "k6"]
    assert any("--page PATH" in w for w in made.warnings)
    assert not (tmp_path / "s" / "ui").exists()


def test_regeneration_is_idempotent_and_keeps_custom_code(tmp_path: Path) -> None:
    write_suite(_spec(), tmp_path, ["api", "ui", "k6"])
    suite = tmp_path / "shop"
    module = suite / "api" / "test_api_items.py"
    script = suite / "k6" / "script.js"
    custom = suite / "api" / "test_api_custom.py"
    mine = "\n\ndef test_mine() -> None:\n    assert 1 + 1 == 2\n\n"
    module.write_text(module.read_text().replace(f"# {CUSTOM_END}", f"{mine}# {CUSTOM_END}"))
    script.write_text(script.read_text().replace(f"// {CUSTOM_END}", f"export function extra() {{}}\n// {CUSTOM_END}"))
    custom.write_text("def test_custom_one() -> None:\n    pass\n")

    again = write_suite(_spec(), tmp_path, ["api", "ui", "k6"])
    assert again.written == [] and not again.warnings  # same input: nothing rewritten
    assert mine in module.read_text() and "export function extra() {}" in script.read_text()
    assert custom.read_text() == "def test_custom_one() -> None:\n    pass\n"

    # A changed spec rewrites the generated part and still keeps the custom code.
    write_suite(_spec(("items", "users", "orders")), tmp_path, ["api", "ui", "k6"])
    assert mine in module.read_text() and (suite / "api" / "test_api_orders.py").is_file()
    assert "export function extra() {}" in script.read_text() and "orders" in script.read_text()


def test_edits_outside_the_custom_section_are_backed_up(tmp_path: Path) -> None:
    write_suite(_spec(), tmp_path, ["api"])
    module = tmp_path / "shop" / "api" / "test_api_items.py"
    module.write_text(module.read_text().replace("expect_status(response, 200)", "expect_status(response, 204)"))
    made = write_suite(_spec(), tmp_path, ["api"])
    assert "expect_status(response, 200)" in module.read_text()
    assert "204" in module.with_name("test_api_items.py.bak").read_text()
    assert any("edited outside its custom section" in w for w in made.warnings)


def test_broken_markers_stop_regeneration_without_losing_code(tmp_path: Path) -> None:
    write_suite(_spec(), tmp_path, ["api"])
    module = tmp_path / "shop" / "api" / "test_api_items.py"
    broken = module.read_text().replace(f"# {CUSTOM_END}", "# precious code")
    module.write_text(broken)
    with pytest.raises(GenerationError, match="markers are broken"):
        write_suite(_spec(), tmp_path, ["api"])
    assert module.read_text() == broken


def test_stale_group_modules_go_unless_they_hold_custom_code(tmp_path: Path) -> None:
    write_suite(_spec(("items", "users", "orders")), tmp_path, ["api"])
    api = tmp_path / "shop" / "api"
    orders = api / "test_api_orders.py"
    orders.write_text(orders.read_text().replace(f"# {CUSTOM_BEGIN}\n", f"# {CUSTOM_BEGIN}\nX = 1\n"))
    made = write_suite(_spec(("items",)), tmp_path, ["api"])
    assert not (api / "test_api_users.py").exists() and "api/test_api_users.py" in made.removed
    assert orders.is_file() and any("no longer generated" in w for w in made.warnings)


def test_another_service_with_the_same_slug_is_refused(tmp_path: Path) -> None:
    write_suite(_spec(), tmp_path, ["api"])
    other = _spec().model_copy(update={"service": "SHOP!"})
    with pytest.raises(GenerationError, match="holds the suite of service"):
        write_suite(other, tmp_path, ["api"])


def test_no_secret_reaches_a_generated_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_TOKEN", "s3cr3t-token-value")
    write_suite(_spec(), tmp_path, ["api", "ui", "k6", "lighthouse"])
    for path in (tmp_path / "shop").rglob("*"):
        if path.is_file():
            assert "s3cr3t-token-value" not in path.read_text(encoding="utf-8")


# ---- results -------------------------------------------------------------------------------

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
<testcase classname="test_api_users" name="test_ok" time="0.010"/>
<testcase classname="test_api_users" name="test_bad" time="0.020">
  <failure message="AssertionError: GET /x -&gt; HTTP 500, expected 200&#10;assert 500 in [200]">trace</failure>
</testcase>
<testcase classname="test_ui_pages" name="test_has_title[home]" time="0.1"><skipped message="did not load"/></testcase>
<testcase classname="" name="test_api_broken" time="0"><error message="collection failure">SyntaxError</error></testcase>
</testsuite></testsuites>
"""


def test_junit_rows(tmp_path: Path) -> None:
    path = tmp_path / "j.xml"
    path.write_text(JUNIT)
    rows = parse_junit(path, "api")
    assert [(r.test, r.outcome) for r in rows] == [
        ("test_api_users::test_ok", "passed"),
        ("test_api_users::test_bad", "failed"),
        ("test_ui_pages::test_has_title[home]", "skipped"),
        ("test_api_broken", "error"),
    ]
    assert rows[1].message == "GET /x -> HTTP 500, expected 200" and rows[1].duration_s == 0.02


def test_lighthouse_budgets() -> None:
    """The suite judges with the audit stage's budget model (the same as `luna lighthouse`);
    budgets of suites written before it (Lighthouse ids) are translated."""
    lhr = {"categories": {"performance": {"score": 0.9}}, "audits": {"server-response-time": {"numericValue": 12.0}}}
    results = check_budgets(
        lhr,
        {"categories:performance": 0.85, "server-response-time": 10, "largest-contentful-paint": 2000},
    )
    rows = {budget: (outcome, detail) for budget, outcome, detail in results}
    assert rows["performance >= 85"] == ("passed", "90")
    assert rows["server_response_ms <= 10"] == ("failed", "12")
    assert rows["lcp_ms <= 2000"] == ("skipped", "not measured")  # no value is not a pass
    assert rows["accessibility >= 90"] == ("skipped", "not measured")  # the shared defaults apply
    assert rows["inp_ms <= 200"] == ("skipped", "not measured")


def test_the_generated_lighthouse_suite_has_the_audit_budgets() -> None:
    from tasks.audit.budgets import Budgets
    from tasks.generation.render import render_lighthouse

    spec = _spec()  # one page: /
    index = json.loads(next(r.text for r in render_lighthouse(spec) if r.path.endswith("lighthouse.json")))
    budgets = Budgets.from_suite(index["pages"][0]["budgets"])
    assert budgets.accessibility == 90 and budgets.inp_ms == 200 and budgets.cls == 0.1
    assert budgets.server_response_ms == spec.pages[0].slos.p95_ms


def test_regenerating_one_part_leaves_the_others(tmp_path: Path) -> None:
    write_suite(_spec(), tmp_path, ["api", "ui", "k6"])
    suite = tmp_path / "shop"
    made = write_suite(_spec(("items", "users", "orders")), tmp_path, ["api"])
    assert made.manifest is not None and made.manifest.kinds == ["api", "ui", "k6"]
    assert made.manifest.tests == {"api": 3, "ui": 1}
    assert (suite / "ui" / "test_ui_pages.py").is_file() and (suite / "k6" / "script.js").is_file()
    assert "orders" not in (suite / "k6" / "script.js").read_text()  # k6 was not regenerated
    assert not made.removed and "ui/conftest.py" in made.manifest.files


def test_one_junit_file_for_every_part(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from tasks.generation.results import CaseResult, SuiteRun, write_junit

    run = SuiteRun(
        suite="shop",
        service="Shop",
        suite_dir=str(tmp_path),
        base_url="http://127.0.0.1:9",
        kinds=["api", "k6"],
        started_at=datetime.now(UTC),
        cases=[
            CaseResult(test="test_api_users::test_ok", kind="api", outcome="passed", duration_s=0.5),
            CaseResult(test="test_api_users::test_bad", kind="api", outcome="failed", message="HTTP 500 <&>"),
            CaseResult(test="threshold http_req_failed: rate<0.01", kind="k6", outcome="failed", message="crossed"),
        ],
    )
    path = write_junit(run, tmp_path / "junit.xml")
    rows = parse_junit(path, "api")
    assert [(r.test, r.outcome, r.message) for r in rows] == [
        ("test_api_users::test_ok", "passed", ""),
        ("test_api_users::test_bad", "failed", "HTTP 500 <&>"),
        ("k6::threshold http_req_failed: rate<0.01", "failed", "crossed"),
    ]


def test_data_files_are_copied_under_a_safe_name(tmp_path: Path) -> None:
    (tmp_path / "in" / "deep").mkdir(parents=True)
    (tmp_path / "evil name'\"`.csv").write_text("a,b\n1,2\n")
    endpoint = {"name": "a", "group": "g", "path": "/a?x={{data.a}}", "data_file": "../evil name'\"`.csv"}
    catalog = parse_catalog({"service": "S", "endpoints": [endpoint]}, source="t")
    spec = build_spec(catalog=catalog, discoveries=[], base_url="http://127.0.0.1:9", data_root=tmp_path / "in")
    write_suite(spec, tmp_path / "suites", ["api", "k6"])
    suite = tmp_path / "suites" / "s"
    assert (suite / "data" / "evil-name.csv").read_text() == "a,b\n1,2\n"
    assert 'data_row("data/evil-name.csv")' in (suite / "api" / "test_api_g.py").read_text()
    assert 'open("../data/evil-name.csv")' in (suite / "k6" / "script.js").read_text()
    with pytest.raises(GenerationError, match="does not exist"):
        build_spec(catalog=catalog, discoveries=[], base_url="http://127.0.0.1:9", data_root=tmp_path / "in" / "deep")
