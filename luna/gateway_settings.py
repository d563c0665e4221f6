"""The gateway's settings: ``LUNA_WEBHOOK_*`` variables (environment or ``.env``).

Kept apart from :class:`luna.settings.LunaSettings` because only the gateway process reads
them. ``LUNA_WEBHOOK_URLS`` and ``LUNA_WEBHOOK_SECRET`` belong to the *outgoing* webhooks
(tasks/notify) and are not read here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from luna.errors import ConfigError

PREFIX = "LUNA_WEBHOOK_"


class GatewaySettings(BaseSettings):
    """Secrets, limits and defaults of the webhook gateway."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file=".env", extra="ignore", case_sensitive=False)

    generic_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key of the generic endpoint (X-Luna-Signature: t=...,v1=...)."
    )
    github_secret: SecretStr | None = Field(None, description="Secret of the GitHub webhook (X-Hub-Signature-256).")
    gitlab_token: SecretStr | None = Field(None, description="Secret token of the GitLab webhook (X-Gitlab-Token).")
    host: str = Field("127.0.0.1", description="Interface to listen on (0.0.0.0 only behind a proxy/firewall).")
    port: int = Field(8090, ge=1, le=65535, description="Port to listen on.")
    max_body_bytes: int = Field(1_048_576, ge=1024, le=26_214_400, description="Largest accepted body (413 above).")
    tolerance_seconds: int = Field(300, ge=10, le=3600, description="Max age of a generic signature's timestamp.")
    replay_ttl_seconds: int = Field(86_400, ge=60, description="How long delivery ids are remembered (replays -> 409).")
    default_target: str | None = Field(
        None, description="Target URL for events that carry none (GitHub push, GitLab pipeline without LUNA_TARGET)."
    )
    allowed_hosts: str | None = Field(
        None, description="Comma-separated host names a webhook may aim at; unset = any http(s) host."
    )

    @field_validator("default_target")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname):
            raise ValueError("must be an http(s) URL")
        return value or None

    def allowed(self) -> set[str] | None:
        if not self.allowed_hosts:
            return None
        return {h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()}

    def enabled_sources(self) -> list[str]:
        secrets = {"generic": self.generic_secret, "github": self.github_secret, "gitlab": self.gitlab_token}
        return [name for name, value in secrets.items() if value is not None and value.get_secret_value()]


ENV_NAMES = tuple(PREFIX + name.upper() for name in GatewaySettings.model_fields)


def load_gateway_settings(**overrides: object) -> GatewaySettings:
    """Read the settings or raise a ConfigError naming the variable (never its secret value)."""
    try:
        settings = GatewaySettings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "settings"
        raise ConfigError(
            f"{PREFIX}{field.upper()}: {err['msg'].removeprefix('Value error, ')}",
            tip=(GatewaySettings.model_fields[field].description if field in GatewaySettings.model_fields else None),
        ) from None
    if not settings.enabled_sources():
        raise ConfigError(
            "the webhook gateway has no secret configured, so it would accept nothing",
            tip=f"set at least one of {PREFIX}GENERIC_SECRET, {PREFIX}GITHUB_SECRET, {PREFIX}GITLAB_TOKEN",
        )
    return settings
