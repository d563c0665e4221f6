"""A real `influxd` (Debian's influxdb package, 1.6.x) on free loopback ports."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from luna.influx import Influx
from tests.conftest import free_port

INFLUXD = shutil.which("influxd") or "/usr/bin/influxd"


class InfluxServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = folder / "influxdb.conf"
        config.write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{free_port()}"\n'
            f'[meta]\n  dir = "{folder}/meta"\n'
            f'[data]\n  dir = "{folder}/data"\n  wal-dir = "{folder}/wal"\n  query-log-enabled = false\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            "[monitor]\n  store-enabled = false\n"
            "[continuous_queries]\n  enabled = false\n",
            encoding="utf-8",
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.folder / "influxd.log").open("ab")
        self.proc = subprocess.Popen([INFLUXD, "-config", str(self.folder / "influxdb.conf")], stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"influxd did not start: {(self.folder / 'influxd.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def client(self, database: str = "k6") -> Influx:
        return Influx(self.url, database)

    def create_database(self, name: str = "k6") -> None:
        httpx.post(f"{self.url}/query", data={"q": f'CREATE DATABASE "{name}"'}).raise_for_status()


@pytest.fixture
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """A private influxd for one test (tests may kill it)."""
    server = InfluxServer(tmp_path_factory.mktemp("influxd"))
    server.start()
    server.create_database()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shared_influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """One influxd for read-mostly tests; each test uses its own run id."""
    server = InfluxServer(tmp_path_factory.mktemp("influxd-shared"))
    server.start()
    server.create_database()
    yield server
    server.stop()
