"""Settings of the notify stage, read from the environment and `.env`.

A stand-in until these four fields join :class:`luna.settings.LunaSettings`; the names
and types are the ones to fold in. A wrong value raises :class:`~luna.errors.ConfigError`
naming the variable.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from luna.errors import ConfigError
from tasks.notify.webhooks import WebhookTarget, parse_webhook_urls


class NotifySettings(BaseSettings):
    """Webhook targets and hook options. Field names map to upper-case variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    luna_webhook_urls: SecretStr | None = Field(
        None,
        description="Comma-separated URLs POSTed when a run finishes; prefix slack+ for Slack format. "
        "Masked because Slack URLs carry a token.",
    )
    luna_webhook_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key for the X-Luna-Signature header; unset = unsigned."
    )
    luna_hooks_dir: Path = Field(Path("hooks"), description="Folder of plugin hooks (*.py).")
    luna_hooks_strict: bool = Field(False, description="true = a failing hook fails the run.")

    def targets(self) -> list[WebhookTarget]:
        """Parsed LUNA_WEBHOOK_URLS (raises ConfigError on a bad entry)."""
        raw = self.luna_webhook_urls.get_secret_value() if self.luna_webhook_urls else ""
        return parse_webhook_urls(raw)

    def secret(self) -> SecretStr | None:
        """The signing secret, or None when unset or empty."""
        if self.luna_webhook_secret and self.luna_webhook_secret.get_secret_value():
            return self.luna_webhook_secret
        return None

    @property
    def hooks_dir_is_explicit(self) -> bool:
        return "luna_hooks_dir" in self.model_fields_set


def webhook_settings() -> NotifySettings:
    """Read the notify settings now, or raise ConfigError naming the bad variable."""
    try:
        return NotifySettings()
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "settings"
        info = NotifySettings.model_fields.get(field)
        message = err["msg"].removeprefix("Value error, ")
        shown = "" if "secret" in field or "urls" in field else f" (got {err.get('input')!r})"
        raise ConfigError(f"{field.upper()}: {message}{shown}", tip=info.description if info else None) from None
