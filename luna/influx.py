"""A small client for InfluxDB's v1-compatible HTTP API (`/ping`, `/write`, `/query`).

That API is the one InfluxDB 1.8, 2.x (compatibility endpoints; the token goes as the
password) and 3 Core all accept, and it is what k6's built-in `influxdb` output speaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import httpx

from luna.settings import LunaSettings

FieldValue = float | int | bool | str


def _escape(text: str, chars: str) -> str:
    text = text.replace("\\", "\\\\")
    for char in chars:
        text = text.replace(char, f"\\{char}")
    return text.replace("\n", "\\n")


def line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, FieldValue], time: datetime) -> str:
    """One point in line protocol (nanosecond precision), escaped per the spec."""
    head = _escape(measurement, ", ")
    for key in sorted(tags):
        if tags[key] != "":
            head += f",{_escape(key, ',= ')}={_escape(str(tags[key]), ',= ')}"
    parts = []
    for key, value in fields.items():
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, int):
            rendered = f"{value}i"
        elif isinstance(value, float):
            rendered = repr(value)
        else:
            rendered = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{_escape(key, ',= ')}={rendered}")
    return f"{head} {','.join(parts)} {int(time.timestamp() * 1e9)}"


class Influx:
    """v1 API client bound to one database (a bucket on 2.x)."""

    def __init__(self, url: str, database: str, token: str | None = None, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.auth = ("luna", token) if token else None
        self.client = httpx.Client(timeout=timeout, auth=self.auth)

    @classmethod
    def from_settings(cls, settings: LunaSettings) -> Influx:
        if not settings.influxdb_url:
            raise ValueError("INFLUXDB_URL is not set")
        token = settings.influxdb_token.get_secret_value() if settings.influxdb_token else None
        return cls(settings.influxdb_url, settings.influxdb_bucket, token)

    def ping(self) -> str:
        """The server's version; raises httpx.HTTPError when it does not answer."""
        response = self.client.get(f"{self.url}/ping")
        response.raise_for_status()
        return response.headers.get("X-Influxdb-Version", "unknown")

    def write(self, lines: Iterable[str]) -> None:
        body = "\n".join(lines)
        if not body:
            return
        response = self.client.post(
            f"{self.url}/write", params={"db": self.database, "precision": "ns"}, content=body.encode()
        )
        response.raise_for_status()

    def query(self, q: str, **params: str) -> list[dict[str, Any]]:
        """InfluxQL; returns the series of the first statement (raises on an error)."""
        response = self.client.post(f"{self.url}/query", data={"db": self.database, "q": q, **params})
        response.raise_for_status()
        result = response.json()["results"][0]
        if "error" in result:
            raise httpx.HTTPError(f"InfluxQL error: {result['error']}")
        return list(result.get("series", []))

    def close(self) -> None:
        self.client.close()
