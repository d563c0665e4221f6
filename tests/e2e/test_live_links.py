"""What a user can open while a `load_test` flow runs: the live dashboard's URL in the
progress artifact, and (with InfluxDB and Grafana configured) the Grafana link for the run
id, published at the start and closed by the final report under the same key."""

from __future__ import annotations

from pathlib import Path

import pytest

from luna.keys import artifact_key
from luna.results import RunResult
from tests.conftest import Demo, artifacts, write_catalog
from tests.fixtures_influx import InfluxServer

pytestmark = pytest.mark.e2e


def test_live_links_are_published_at_the_start(
    harness: None, demo: Demo, tmp_path: Path, clean_env: Path, influxd: InfluxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.load_test import load_test
    from tasks.execution.plan import LoadTestParams

    monkeypatch.setenv("INFLUXDB_URL", influxd.url)
    monkeypatch.setenv("LUNA_K6_DASHBOARD", "true")  # k6's live view is opt-in (its memory cost)
    catalog = write_catalog(
        tmp_path / "e.json", [{"name": "Users", "group": "u", "path": "/api/users"}], service="Live"
    )
    params = LoadTestParams(
        profile="smoke", target=demo.url, config=str(catalog), smoke_duration="2s", grafana_url="http://127.0.0.1:3000"
    )
    state = load_test(params, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert isinstance(result, RunResult)
    grafana = [str(a.data) for a in reversed(artifacts(artifact_key("luna-grafana", "Live", "smoke")))]  # type: ignore[attr-defined]
    assert len(grafana) == 2, grafana
    live, final = grafana
    assert f"var-run_id={result.run_id}" in live and "to=now" in live and "refresh=5s" in live
    assert f"var-run_id={result.run_id}" in final and "to=now" not in final
    progress = artifacts(artifact_key("luna-progress", "Live", "smoke"))[0]
    assert "live dashboard while it runs: http://127.0.0.1:" in str(progress.description)  # type: ignore[attr-defined]
