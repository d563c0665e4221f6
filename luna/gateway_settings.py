"""The gateway section of :class:`luna.settings.LunaSettings`: the ``LUNA_WEBHOOK_*``
variables of the incoming-webhook gateway and LUNA_ALLOWED_TARGETS (``settings.gateway``).

The fields are read and validated with every other setting (one model, one error
mapper); this module is the gateway's typed view and its extra check (at least one
secret). ``LUNA_WEBHOOK_URLS`` and ``LUNA_WEBHOOK_SECRET`` belong to the *outgoing*
webhooks (tasks/notify) and are not part of it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AliasChoices, Field, SecretStr, field_validator

from luna.errors import ConfigError
from luna.sections import Section
from luna.urls import allow_list, web_url

PREFIX = "LUNA_WEBHOOK_"


class GatewaySettings(Section):
    """Secrets, limits and defaults of the webhook gateway."""

    PREFIX: ClassVar[str] = PREFIX.lower()
    FIELDS: ClassVar[dict[str, str]] = {"allowed_targets": "luna_allowed_targets"}

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

    allowed_targets: str | None = Field(
        None,
        validation_alias=AliasChoices("LUNA_ALLOWED_TARGETS", "allowed_targets"),
        description="LUNA_ALLOWED_TARGETS (shared with the MCP tools): loopback, origins or hosts; unset = no limit here.",
    )

    @field_validator("default_target")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return web_url(value) if value else None

    @field_validator("allowed_targets")
    @classmethod
    def _allow_list(cls, value: str | None) -> str | None:
        allow_list(value)
        return value

    def allowed(self) -> tuple[frozenset[str] | None, tuple[str, ...] | None]:
        """(LUNA_WEBHOOK_ALLOWED_HOSTS, LUNA_ALLOWED_TARGETS), each None when unset."""
        hosts = {h.strip().lower() for h in (self.allowed_hosts or "").split(",") if h.strip()}
        return (frozenset(hosts) if hosts else None), allow_list(self.allowed_targets)

    def enabled_sources(self) -> list[str]:
        secrets = {"generic": self.generic_secret, "github": self.github_secret, "gitlab": self.gitlab_token}
        return [name for name, value in secrets.items() if value is not None and value.get_secret_value()]


ENV_NAMES = tuple(PREFIX + name.upper() for name in GatewaySettings.model_fields if name != "allowed_targets")


def load_gateway_settings(**overrides: Any) -> GatewaySettings:
    """The gateway section of the settings (environment, .env, overrides by the gateway's
    own field names), or a ConfigError naming the variable (never its secret value)."""
    from luna.settings import load_settings

    settings = load_settings(**{GatewaySettings.source_of(k): v for k, v in overrides.items()}).gateway
    if not settings.enabled_sources():
        raise ConfigError(
            "the webhook gateway has no secret configured, so it would accept nothing",
            tip=f"set at least one of {PREFIX}GENERIC_SECRET, {PREFIX}GITHUB_SECRET, {PREFIX}GITLAB_TOKEN",
        )
    return settings
