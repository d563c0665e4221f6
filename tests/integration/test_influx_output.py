"""k6's built-in InfluxDB output into a real influxd: nothing lost, tags right, and a
dead InfluxDB never costs the run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.conftest import Demo, Runner, free_port, write_catalog
from tests.fixtures_influx import InfluxServer

pytestmark = pytest.mark.integration

ENDPOINTS = [
    {"name": "Users", "group": "users", "path": "/api/users", "weight": 2},
    {"name": "Health", "group": "ops", "path": "/api/health"},
]


def test_every_sample_lands_with_its_tags(demo: Demo, influxd: InfluxServer, tmp_path: Path, load_run: Runner) -> None:
    catalog = write_catalog(tmp_path / "e.json", ENDPOINTS, service="Influx Svc")
    result = load_run(demo.url, catalog, "smoke", influxdb_url=influxd.url, smoke_vus=4, smoke_duration="3s")
    assert result.status == "passed" and result.influxdb is not None and result.influxdb.stored
    assert result.influxdb.samples_stored == result.influxdb.samples_expected == result.total.requests  # type: ignore[union-attr]
    assert "(100.000%)" in result.influxdb.note
    client = influxd.client()
    series = client.query(f"SELECT count(value) FROM http_reqs WHERE run_id='{result.run_id}' GROUP BY \"name\"")
    stored = {s["tags"]["name"]: s["values"][0][1] for s in series}
    assert stored == {e.name: e.requests for e in result.endpoints}
    tags = client.query("SHOW TAG KEYS FROM http_req_duration")[0]["values"]
    keys = {t[0] for t in tags}
    assert {"run_id", "service", "profile", "name", "group", "status", "method"} <= keys
    assert not {"vu", "iter", "url"} & keys  # kept as fields: bounded series cardinality
    p95 = client.query(
        f"SELECT percentile(value, 95) FROM http_req_duration WHERE run_id='{result.run_id}' AND \"name\"='Users'"
    )[0]["values"][0][1]
    assert p95 == pytest.approx(result.endpoints[0].latency_ms.p95, rel=0.05, abs=0.5)


def test_influx_down_before_the_run(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    catalog = write_catalog(tmp_path / "e.json", ENDPOINTS)
    lines: list[str] = []
    dead = f"http://127.0.0.1:{free_port()}"
    result = load_run(demo.url, catalog, "smoke", influxdb_url=dead, smoke_duration="1s", lines=lines)
    assert result.status == "passed" and result.total is not None and result.total.requests > 0
    assert result.influxdb is not None and not result.influxdb.stored
    assert "did not answer before the run" in result.influxdb.note
    assert any("samples not stored" in line for line in lines)


def test_influx_killed_mid_run(demo: Demo, influxd: InfluxServer, tmp_path: Path, load_run: Runner) -> None:
    catalog = write_catalog(tmp_path / "e.json", ENDPOINTS)
    killer = threading.Timer(2.0, influxd.stop)
    killer.start()
    started = time.monotonic()
    result = load_run(demo.url, catalog, "smoke", influxdb_url=influxd.url, smoke_duration="5s")
    killer.join()
    assert time.monotonic() - started < 40
    assert result.status == "passed", result.message  # the load run went on
    assert result.total is not None and result.total.requests > 0
    assert result.influxdb is not None and not result.influxdb.stored and result.influxdb.errors > 0
    assert "samples are incomplete" in result.influxdb.note
