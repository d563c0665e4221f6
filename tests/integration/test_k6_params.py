"""What k6/lib/endpoints.js puts on each request, read from k6's own samples (`--out json`):
per-endpoint name tags and expected statuses only when k6's samples leave k6
(LUNA_K6_SAMPLES=1, as InfluxDB, K6_OUT and shard CSVs set it), and otherwise one run-wide
expected-status callback, so that k6's web dashboard never shows an expected 404 as an error."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT, Demo, write_catalog

pytestmark = pytest.mark.integration

ENDPOINTS = [
    {"name": "Users", "group": "users", "path": "/api/users", "checks": {"status": 200}},
    {"name": "Gone", "group": "ops", "path": "/api/no-such-thing", "checks": {"status": 404}},
    {"name": "Lost", "group": "ops", "path": "/api/not-here-either", "checks": {"status": 200}},
]
CALLS = 3  # iterations; each calls every endpoint once

SCRIPT = """
import { loadCatalog, compileCatalog, call } from '%s';
export const options = { vus: 1, iterations: %d };
const C = compileCatalog(loadCatalog(__ENV.ENDPOINTS_FILE), __ENV.BASE_URL);
const NO_MEASURE = { add() {} };
export default function () { for (const ep of C.endpoints) call(C, ep, null, NO_MEASURE); }
"""


def load(demo: Demo, tmp_path: Path, samples_env: bool) -> tuple[Counter[str], Counter[tuple[str, float]]]:
    script = tmp_path / "probe.js"
    script.write_text(SCRIPT % (ROOT / "k6" / "lib" / "endpoints.js", CALLS), encoding="utf-8")
    out = tmp_path / f"samples-{samples_env}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K6_", "LUNA_"))}
    env |= {"ENDPOINTS_FILE": str(write_catalog(tmp_path / "e.json", ENDPOINTS)), "BASE_URL": demo.url}
    if samples_env:
        env["LUNA_K6_SAMPLES"] = "1"
    k6 = str(ROOT / ".venv" / "bin" / "k6")
    subprocess.run(
        [k6, "run", "-q", "--no-summary", "--out", f"json={out}", str(script)], env=env, check=True, timeout=120
    )
    names: Counter[str] = Counter()
    failed: Counter[tuple[str, float]] = Counter()
    for line in out.read_text(encoding="utf-8").splitlines():
        point = json.loads(line)
        if point["type"] != "Point":
            continue
        tags = point["data"]["tags"]
        if point["metric"] == "http_reqs":
            names[tags["name"]] += 1
        elif point["metric"] == "http_req_failed":
            failed[(tags["status"], point["data"]["value"])] += 1
    return names, failed


def test_no_tags_and_one_expected_status_callback_when_samples_stay_in_k6(demo: Demo, tmp_path: Path) -> None:
    names, failed = load(demo, tmp_path, samples_env=False)
    # k6's default name tag (the URL): Luna sent no tags of its own
    assert names == {f"{demo.url}{e['path']}": CALLS for e in ENDPOINTS}
    # the run-wide callback expects what any endpoint expects: Gone's 404 is no failure for k6's
    # dashboard, and so neither is Lost's (Luna's own verdict judges each endpoint exactly)
    assert failed == {("200", 0): CALLS, ("404", 0): 2 * CALLS}


def test_name_tags_and_each_endpoints_statuses_when_samples_leave_k6(demo: Demo, tmp_path: Path) -> None:
    names, failed = load(demo, tmp_path, samples_env=True)
    assert names == {e["name"]: CALLS for e in ENDPOINTS}
    assert failed == {("200", 0): CALLS, ("404", 0): CALLS, ("404", 1): CALLS}  # Lost's 404 fails
