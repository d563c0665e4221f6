"""The sections of :class:`luna.settings.LunaSettings`: typed views of one concern each.

The settings object stays flat where the environment is flat (every field is one variable,
``AUTH_TOKEN`` -> ``auth_token``), so users' ``.env`` files keep working; a section groups
the fields of one concern under short names (``settings.auth.token``,
``settings.influx.url``, ``settings.shards.engine``) for the code that needs only that
concern. Sections are built from the already validated settings and never read the
environment themselves.

    load       profiles' VUs, durations, rates; k6 and its script
    auth       the one auth mode and its credentials
    influx     InfluxDB (v1-compatible HTTP API)
    visual_qa  Anthropic model and limits, Chromium, Lighthouse concurrency
    notify     outgoing webhooks and plugin hooks
    gateway    the incoming-webhook gateway (luna/gateway_settings.py)
    shards     distributed load: engine, Dask, work-pool deployment
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, SecretStr


class Section(BaseModel):
    """A view of some LunaSettings fields; FIELDS maps a section field to its settings field
    (a field not listed is the section's PREFIX + its own name)."""

    model_config = ConfigDict(frozen=True)

    PREFIX: ClassVar[str] = ""
    FIELDS: ClassVar[dict[str, str]] = {}

    @classmethod
    def source_of(cls, name: str) -> str:
        return cls.FIELDS.get(name, cls.PREFIX + name)

    @classmethod
    def of(cls, settings: Any) -> Self:
        return cls.model_validate({name: getattr(settings, cls.source_of(name)) for name in cls.model_fields})


class LoadSection(Section):
    base_url: str
    vus: int
    duration: str
    ramp_duration: str
    soak_duration: str
    stress_vus: int
    spike_vus: int
    smoke_vus: int
    smoke_duration: str
    load_model: Literal["closed", "open"]
    rate: int
    stress_rate: int | None
    spike_rate: int | None
    max_vus: int | None
    k6_binary: str | None
    k6_script: Path | None
    failure_samples: int

    FIELDS: ClassVar[dict[str, str]] = {"k6_script": "luna_k6_script", "failure_samples": "luna_failure_samples"}


class AuthSection(Section):
    token: SecretStr | None
    basic_user: str | None
    basic_pass: SecretStr | None
    api_key: SecretStr | None
    api_key_header: str
    host: str | None
    realm: str | None
    client_id: str | None
    client_secret: SecretStr | None

    PREFIX: ClassVar[str] = "auth_"


class InfluxSection(Section):
    url: str | None
    org: str
    bucket: str
    token: SecretStr | None

    PREFIX: ClassVar[str] = "influxdb_"


class VisualQASection(Section):
    ai_key: SecretStr | None
    ai_model: str
    ai_base_url: str | None
    concurrency: int
    max_retries: int
    timeout_s: float
    chromium: str | None
    lighthouse_concurrency: int

    PREFIX: ClassVar[str] = "visual_qa_"
    FIELDS: ClassVar[dict[str, str]] = {
        "chromium": "luna_chromium",
        "lighthouse_concurrency": "luna_lighthouse_concurrency",
    }


class NotifySection(Section):
    webhook_urls: SecretStr | None
    webhook_secret: SecretStr | None
    hooks_dir: Path
    hooks_strict: bool

    PREFIX: ClassVar[str] = "luna_"


class ShardSettings(Section):
    """Where shards run and what they keep (DASK_ADDRESS, SHARD_*, DASK_WORKERS)."""

    dask_address: str | None
    shard_ready_timeout_s: float
    shard_engine: Literal["dask", "work-pool"]
    shard_deployment: str
    dask_workers: int | None
    shard_raw_samples: bool


def masked_by_section(settings: Any) -> dict[str, dict[str, str]]:
    """`settings.masked()` grouped by section (what `luna env` prints), each setting once, in
    the first section that reads it; what no section reads (folders, ports, ...) under "general"."""
    from luna.gateway_settings import GatewaySettings

    flat: dict[str, str] = settings.masked()
    sections: dict[str, type[Section]] = {
        "load": LoadSection,
        "auth": AuthSection,
        "influx": InfluxSection,
        "visual_qa": VisualQASection,
        "notify": NotifySection,
        "gateway": GatewaySettings,
        "shards": ShardSettings,
    }
    out: dict[str, dict[str, str]] = {}
    placed: set[str] = set()
    for title, section in sections.items():
        names = [section.source_of(field).upper() for field in section.model_fields]
        out[title] = {name: flat[name] for name in names if name in flat and name not in placed}
        placed |= set(names)
    out["general"] = {name: value for name, value in flat.items() if name not in placed}
    return out
