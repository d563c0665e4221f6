"""Shared fixtures: free ports, the real demo API as a subprocess, and a load-run helper
that uses the real k6 through the same functions the flow calls (no Prefect)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from luna.results import RunResult
from luna.settings import load_settings
from tasks.execution.k6 import run_k6
from tasks.execution.plan import LoadTestParams, prepare_run

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.fixtures_influx"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def artifacts(key: str) -> list[Any]:
    """The Prefect artifacts with this key, newest first (the API's default order is by id,
    a random UUID: a session's earlier run of the same key would come first half the time)."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async def read() -> list[Any]:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC
            )
            return list(found)

    return asyncio.run(read())


class Demo:
    """A running demo API: its URL, stats and reset."""

    def __init__(self, url: str, proc: subprocess.Popen[bytes]) -> None:
        self.url, self.proc = url, proc

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/__luna/stats", timeout=5).json())

    def reset(self) -> None:
        httpx.post(f"{self.url}/__luna/reset", timeout=5).raise_for_status()


def start_demo(*args: str) -> Demo:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app.demo", "--port", str(port), *args], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=0.5).status_code == 200:
                return Demo(url, proc)
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("demo API did not start")


@pytest.fixture(scope="session")
def demo() -> Iterator[Demo]:
    server = start_demo()
    yield server
    server.proc.terminate()
    server.proc.wait(timeout=10)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No auth or Luna variables leak in from the machine; runs go to tmp_path."""
    for key in list(os.environ):
        if key.startswith(("AUTH_", "LUNA_", "INFLUXDB_", "K6_")) or key in ("BASE_URL", "VUS", "DURATION"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LUNA_OUT_DIR", str(tmp_path / "out"))
    return tmp_path


def write_catalog(path: Path, endpoints: list[dict[str, Any]], **extra: Any) -> Path:
    data = {"service": "test", "slos": {"p95_ms": 1000, "error_rate": 0.5}, "endpoints": endpoints, **extra}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


Runner = Callable[..., RunResult]


@pytest.fixture
def load_run(clean_env: Path) -> Runner:
    """Run k6 for real: `load_run(target, catalog_path, profile="smoke", **settings)`."""

    def run(
        target: str, config: Path, profile: str = "smoke", lines: list[str] | None = None, **overrides: Any
    ) -> RunResult:
        settings = load_settings(base_url=target, **overrides)
        plan = prepare_run(LoadTestParams(profile=profile, config=str(config)), settings)  # type: ignore[arg-type]
        sink = lines if lines is not None else []
        return run_k6(
            plan,
            settings,
            on_line=lambda level, text: sink.append(f"{level} {text}"),
            on_progress=lambda fraction, text: None,
        )

    return run


@pytest.fixture
def fake_anthropic() -> Iterator[Any]:
    """A local server speaking the Anthropic Messages wire format (tests/fake_anthropic.py)."""
    from tests.fake_anthropic import FakeAnthropic

    with FakeAnthropic() as fake:
        yield fake
