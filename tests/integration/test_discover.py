"""Discovery end to end: the demo API's live OpenAPI spec -> an endpoints file that Luna
can load test for real; bad sources are one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from luna.catalog import load_catalog
from tests.conftest import ROOT, Demo, Runner

pytestmark = pytest.mark.integration
LUNA = str(Path(sys.executable).with_name("luna"))


def luna(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "LUNA_"))}
    return subprocess.run([LUNA, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_discovered_endpoints_are_runnable(demo: Demo, tmp_path: Path, load_run: Runner) -> None:
    out = tmp_path / "endpoints.json"
    done = luna("discover", f"{demo.url}/openapi.json", "--out", str(out), "--service", "Discovered Demo")
    assert done.returncode == 0, done.stderr
    assert "openapi" in done.stdout and "wrote" in done.stdout
    catalog = load_catalog(out)
    paths = {(e.method, e.path.split("?")[0]) for e in catalog.endpoints}
    assert ("GET", "/api/users") in paths and ("POST", "/api/users") in paths and ("GET", "/api/users/1") in paths
    demo.reset()
    result = load_run(demo.url, out, "smoke", smoke_duration="2s")
    assert result.total is not None and result.total.requests > 0
    by_name = {e.path.split("?")[0]: e for e in result.endpoints}
    assert by_name["/api/users"].check_pass_rate == 1.0
    assert by_name["/api/users/1"].check_pass_rate == 1.0
    served = demo.stats()["requests"]
    assert served.get("POST /api/users", 0) == next(
        e.requests for e in result.endpoints if e.method == "POST" and e.path == "/api/users"
    )


def test_existing_file_is_not_overwritten(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "endpoints.json"
    out.write_text("{}")
    done = luna("discover", f"{demo.url}/openapi.json", "--out", str(out))
    assert done.returncode == 2 and "already exists" in done.stderr and out.read_text() == "{}"
    assert luna("discover", f"{demo.url}/openapi.json", "--out", str(out), "--force").returncode == 0
    assert json.loads(out.read_text())["endpoints"]


@pytest.mark.parametrize(
    "content,expected",
    [
        ("{not json: [", "discovery error: syntax"),
        ('{"hello": "world"}', "discovery error: format"),
        ('{"openapi": "3.0.0", "info": {"title": "x", "version": "1"}, "paths": []}', "discovery error: invalid"),
    ],
)
def test_bad_sources_are_one_line(tmp_path: Path, content: str, expected: str) -> None:
    source = tmp_path / "spec.json"
    source.write_text(content)
    done = luna("discover", str(source), "--out", str(tmp_path / "out.json"))
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert done.returncode == 2 and len(lines) == 1 and expected in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_several_sources_merge_into_one_file(demo: Demo, tmp_path: Path) -> None:
    data = ROOT / "tests" / "unit" / "data" / "discovery"
    out = tmp_path / "merged.json"
    done = luna(
        "discover",
        f"{demo.url}/openapi.json",
        str(data / "shop.postman_collection.json"),
        str(data / "app.har"),
        "--postman-env",
        str(data / "shop.postman_environment.json"),
        "--out",
        str(out),
        "--service",
        "Merged",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(" endpoints") >= 3 and "postman" in done.stdout and "har" in done.stdout
    catalog = load_catalog(out)
    names = [e.name for e in catalog.endpoints]
    assert len(names) == len(set(names)) and len(names) > 10


def test_discover_flow_publishes_what_it_found(demo: Demo, tmp_path: Path, clean_env: Path) -> None:
    from prefect.testing.utilities import prefect_test_harness

    from flows.discover import DiscoverParams, discover

    out = tmp_path / "flow.json"
    with prefect_test_harness(server_startup_timeout=120):
        data = discover(DiscoverParams(sources=[f"{demo.url}/openapi.json"], out=str(out), service="Flow Disc"))
    catalog = load_catalog(out)
    assert catalog.service == data.service == "Flow Disc" and data.out == str(out)
    assert data.endpoints == [e.name for e in catalog.endpoints] and data.endpoints
