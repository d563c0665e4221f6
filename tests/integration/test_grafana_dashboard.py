"""The Grafana dashboard as code: every panel query, run against a real InfluxDB after a real k6 run.

Grafana cannot run here, so the test does what Grafana's InfluxDB data source does before it
sends an InfluxQL query: it replaces `$timeFilter`, `$__interval`, `$__interval_ms` and the
template variables (`${var:regex}`: regex-escaped, `(a|b)` for several values), resolving
the variables the way the dashboard chains them (service -> run_id -> endpoint).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from luna.catalog import load_catalog
from luna.influx import Influx
from tasks.evaluation.points import write_run_points
from tasks.evaluation.slo import apdex, evaluate
from tests.conftest import Demo, Runner, write_catalog
from tests.fixtures_influx import InfluxServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "grafana" / "dashboards" / "luna-k6.json"
DATASOURCE = ROOT / "grafana" / "provisioning" / "datasources" / "luna-influxdb.yaml"
PROVIDER = ROOT / "grafana" / "provisioning" / "dashboards" / "luna.yaml"
COMPOSE = ROOT / "docker-compose.yml"
DS_UID = "luna-influxdb"

# Regex metacharacters and a space in the service name: the escaping must be right.
SERVICE = "Grafana QA (v1.2)"
ENDPOINTS: list[dict[str, Any]] = [
    {
        "name": "Users",
        "group": "users",
        "path": "/api/users",
        "weight": 2,
        "checks": {"status": 200, "body_path": "data"},
    },
    {"name": "Health", "group": "ops", "path": "/api/health"},
    {"name": "Flaky.v2", "group": "ops", "path": "/api/flaky?rate=0.2", "checks": {"status": 200}},
]


# ---- the dashboard ------------------------------------------------------------------------


def load_dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text(encoding="utf-8")))


def all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Top-level panels plus those inside collapsed rows."""
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def variable_query(variable: dict[str, Any]) -> str:
    """Grafana stores an InfluxDB variable query as a string or as {"query": ..., "refId": ...}."""
    query = variable["query"]
    return str(query["query"] if isinstance(query, dict) else query)


# ---- Grafana's interpolation for InfluxQL ---------------------------------------------------

REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|\[\]{}/]")  # @grafana/data escapeRegex
JS_PARSE_FLOAT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)")  # JavaScript parseFloat() is not NaN
TEMPLATE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}")  # Grafana's variable syntaxes


def escape_regex(value: str) -> str:
    return REGEX_SPECIAL.sub(lambda m: "\\" + m.group(0), value)


@dataclass
class Variable:
    name: str
    values: list[str]
    multi: bool


def format_value(variable: Variable, query: str, fmt: str | None = None) -> str:
    """`${var:regex}`: every value escaped, several as (a|b). A bare `$var`: what
    InfluxDatasource.interpolateQueryExpr does (multi-value as (a|b); a single value escaped
    when the query uses it inside /.../, unless it starts like a number)."""
    if fmt == "regex":
        escaped = [escape_regex(v) for v in variable.values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if fmt is not None:
        raise AssertionError(f"variable format :{fmt} is not emulated here; use :regex or none")
    if variable.multi:
        return "(" + "|".join(escape_regex(v) for v in variable.values) + ")"
    value = variable.values[0]
    if JS_PARSE_FLOAT.match(value):
        return value  # Grafana leaves values that start like a number alone
    in_regex = re.search(rf"/(?:\^)?.*\${variable.name}.*/", query)
    return escape_regex(value) if in_regex else value


def time_filter(start: datetime, end: datetime) -> str:
    return f"time >= {int(start.timestamp() * 1000)}ms and time <= {int(end.timestamp() * 1000)}ms"


def interpolate(query: str, variables: dict[str, Variable], timefilter: str, interval_ms: int = 1000) -> str:
    builtins = {"timeFilter": timefilter, "__interval": f"{interval_ms // 1000}s", "__interval_ms": str(interval_ms)}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        if name in builtins:
            return builtins[name]
        if name in variables:
            return format_value(variables[name], query, match.group(3) or match.group(5))
        return match.group(0)  # unknown: left alone, as Grafana does (InfluxDB will then reject it)

    return TEMPLATE.sub(replace, query)


def metric_find(client: Influx, query: str) -> list[str]:
    """The values a query variable offers: the `value` column of SHOW TAG VALUES (else the first)."""
    values: set[str] = set()
    for series in client.query(query):
        column = series["columns"].index("value") if "value" in series["columns"] else 0
        values.update(str(row[column]) for row in series.get("values", []))
    return sorted(values)


def non_null(series: list[dict[str, Any]]) -> list[Any]:
    return [v for s in series for row in s.get("values", []) for v in row[1:] if v is not None]


# ---- Luna's run-level points ----------------------------------------------------------------


# ---- static checks ----------------------------------------------------------------------------


def regex_variables_escaped(query: str) -> bool:
    """Variables inside `=~ /.../` use Grafana's :regex format, which escapes their values in
    every Grafana version (a bare $var is escaped or not depending on the version)."""
    for body in re.findall(r"=~ /(.*?[^\\])/", query):
        if re.search(r"\$\w|\$\{|\[\[", re.sub(r"\$\{\w+:regex\}", "", body)):
            return False
    return True


def panel_answers(
    client: Influx, dashboard: dict[str, Any], variables: dict[str, Variable], window: str
) -> dict[str, list[dict[str, Any]]]:
    """Every panel's (and annotation's) InfluxQL, interpolated as Grafana would, run against
    the real InfluxDB; fails listing each panel that errs or returns no non-null value.
    Answers by "<panel title>/<refId>"."""
    problems: list[str] = []
    answers: dict[str, list[dict[str, Any]]] = {}
    queries = [(p, t) for p in all_panels(dashboard) for t in p.get("targets", [])]
    queries += [({"title": f"annotation {a['name']}"}, a["target"]) for a in dashboard["annotations"]["list"]]
    for panel, target in queries:
        # A panel with a relative time override gets Grafana's relative filter.
        timefilter = f"time >= now() - {panel['timeFrom']} and time <= now()" if panel.get("timeFrom") else window
        query = interpolate(target["query"], variables, timefilter)
        where = f"panel '{panel['title']}' target {target['refId']}"
        if re.search(r"\$\w|\[\[", query):
            problems.append(f"{where}: variable left in {query}")
            continue
        try:
            series = client.query(query)
        except Exception as exc:  # report every panel, not only the first broken one
            problems.append(f"{where}: {exc}\n    {query}")
            continue
        if not non_null(series):
            problems.append(f"{where}: no series with a non-null value\n    {query}")
        answers[f"{panel['title']}/{target['refId']}"] = series
    assert not problems, "\n".join(problems)
    return answers


def test_dashboard_json_is_valid() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] == "luna-k6" and dashboard["title"] == "Luna — k6 load runs"
    assert dashboard["schemaVersion"] == 39
    panels = all_panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    titles = [p["title"] for p in panels]
    assert len(titles) == len(set(titles)), "panel titles must be unique: failures name the panel by its title"
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        title = panel["title"]
        assert panel.get("datasource", {}).get("uid") == DS_UID, f"panel '{title}': datasource is not {DS_UID}"
        assert panel.get("description", "").strip(), f"panel '{title}' has no description"
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, f"panel '{title}' is off the grid"
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"panel '{title}' overlaps '{cells[(x, y)]}'"
                cells[(x, y)] = title
        if panel["type"] == "row":
            continue
        assert panel.get("targets"), f"panel '{title}' has no query"
        for target in panel["targets"]:
            where = f"panel '{title}' target {target['refId']}"
            assert target.get("datasource", {}).get("uid") == DS_UID, f"{where}: datasource is not {DS_UID}"
            assert target.get("rawQuery") is True, f"{where}: not a raw InfluxQL query"
            assert target.get("resultFormat") in ("time_series", "table"), f"{where}: resultFormat"
            query = target["query"]
            assert re.match(r"(SELECT|SHOW) ", query), f"{where}: not InfluxQL: {query}"
            assert "from(bucket" not in query and "|>" not in query, f"{where}: Flux, not InfluxQL"
            assert regex_variables_escaped(query), f"{where}: use /^${{var:regex}}$/ in regexes: {query}"
            if "GROUP BY time(" in query:
                assert "$timeFilter" in query and "time($__interval)" in query, f"{where}: needs $timeFilter"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert list(variables) == ["service", "run_id", "endpoint"]  # Luna's run link sets var-service and var-run_id
    assert variables["endpoint"]["multi"] and variables["endpoint"]["includeAll"]
    for variable in variables.values():
        assert variable["datasource"]["uid"] == DS_UID and variable_query(variable).startswith("SHOW TAG VALUES")
        assert regex_variables_escaped(variable_query(variable)), variable["name"]
    for annotation in dashboard["annotations"]["list"]:
        target = annotation["target"]
        assert annotation["datasource"]["uid"] == DS_UID and target["fromAnnotations"] and target["rawQuery"]
        assert target["query"].startswith("SELECT") and target["textColumn"] in target["query"]
        assert regex_variables_escaped(target["query"]), annotation["name"]


def test_provisioning_files_parse() -> None:
    sources = yaml.safe_load(DATASOURCE.read_text(encoding="utf-8"))
    assert sources["apiVersion"] == 1
    (source,) = [s for s in sources["datasources"] if s["uid"] == DS_UID]
    assert source["type"] == "influxdb" and source["access"] == "proxy"
    assert source["jsonData"]["version"] == "InfluxQL"  # not Flux: k6's v1 output and the panels speak InfluxQL
    assert source["url"] == "${INFLUXDB_URL}"
    assert source["database"] == source["jsonData"]["dbName"] == "${INFLUXDB_BUCKET}"
    assert source["user"] and source["secureJsonData"]["password"] == "${INFLUXDB_TOKEN}"

    providers = yaml.safe_load(PROVIDER.read_text(encoding="utf-8"))
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"] == "/var/lib/grafana/dashboards"

    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    grafana = compose["services"]["grafana"]
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in grafana["volumes"] if str(v).startswith("./")}
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    assert mounts[provider["options"]["path"]] == "./grafana/dashboards"
    assert {"INFLUXDB_URL", "INFLUXDB_BUCKET", "INFLUXDB_TOKEN"} <= set(grafana["environment"])


# ---- every query against a real run ----------------------------------------------------------


def test_every_panel_query_returns_data(demo: Demo, influxd: InfluxServer, tmp_path: Path, load_run: Runner) -> None:
    catalog = write_catalog(tmp_path / "endpoints.json", ENDPOINTS, service=SERVICE)
    result = load_run(demo.url, catalog, "smoke", influxdb_url=influxd.url, smoke_vus=3, smoke_duration="4s")
    assert result.influxdb is not None and result.influxdb.stored, result.influxdb
    assert result.total is not None and result.total.failed_requests > 0  # the flaky endpoint failed some
    client = influxd.client()
    verdict = evaluate(result, load_catalog(catalog))
    assert write_run_points(client, result, verdict) == len(result.endpoints) + 1  # Luna's own writer
    stored = client.query(f"SELECT count(requests) FROM luna_run WHERE run_id = '{result.run_id}'")
    assert stored[0]["values"][0][1] == len(result.endpoints) + 1

    assert result.finished_at is not None
    window = time_filter(result.started_at - timedelta(minutes=1), result.finished_at + timedelta(minutes=1))
    dashboard = load_dashboard()

    # Template variables, in order: each query sees the values chosen before it.
    wanted = {"service": [SERVICE], "run_id": [result.run_id]}
    variables: dict[str, Variable] = {}
    for spec in dashboard["templating"]["list"]:
        query = interpolate(variable_query(spec), variables, window)
        options = metric_find(client, query)
        assert options, f"variable ${spec['name']}: no values from {query}"
        chosen = wanted.get(spec["name"], options)  # endpoint: All = every option
        assert set(chosen) <= set(options), f"variable ${spec['name']}: {chosen} not in {options}"
        variables[spec["name"]] = Variable(spec["name"], chosen, bool(spec.get("multi")))
    assert variables["endpoint"].values == sorted(e["name"] for e in ENDPOINTS)

    answers = panel_answers(client, dashboard, variables, window)

    # The numbers are the run's numbers.
    total = result.total
    assert answers["Requests/A"][0]["values"][0][1] == total.requests
    assert answers["p95 latency/A"][0]["values"][0][1] == pytest.approx(total.latency_ms.p95, rel=0.05, abs=0.5)
    assert answers["Error rate/A"][0]["values"][0][1] == pytest.approx(total.error_rate, abs=0.005)
    assert answers["Verdict/A"][0]["values"][0][1] == int(verdict.passed)
    p95s = {s["tags"]["name"]: s["values"][0][1] for s in answers["p95 latency by endpoint/A"]}
    assert p95s.keys() == {e.name for e in result.endpoints}
    for endpoint in result.endpoints:
        assert p95s[endpoint.name] == pytest.approx(endpoint.latency_ms.p95, rel=0.05, abs=0.5), endpoint.name
    scores = {s["tags"]["endpoint"]: s["values"][0][1] for s in answers["Apdex by endpoint/A"]}
    assert scores == pytest.approx({e.name: apdex(e) for e in result.endpoints})
    (runs,) = answers["Recent runs/A"]  # one row per run, stamped with the run's end
    row = dict(zip(runs["columns"], runs["values"][0], strict=True))
    assert len(runs["values"]) == 1 and row["run_id"] == result.run_id and row["requests"] == total.requests
    assert row["time"].startswith(result.finished_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
