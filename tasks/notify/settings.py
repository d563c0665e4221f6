"""The notify stage's view of LunaSettings: parsed webhook targets, the signing secret,
and the hooks folder. The fields themselves live in luna/settings.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from luna.settings import LunaSettings, load_settings
from tasks.notify.webhooks import WebhookTarget, parse_webhook_urls


@dataclass(frozen=True)
class NotifySettings:
    settings: LunaSettings

    @property
    def luna_hooks_dir(self) -> Path:
        return self.settings.luna_hooks_dir

    @property
    def luna_hooks_strict(self) -> bool:
        return self.settings.luna_hooks_strict

    @property
    def hooks_dir_is_explicit(self) -> bool:
        return "luna_hooks_dir" in self.settings.model_fields_set

    def targets(self) -> list[WebhookTarget]:
        """Parsed LUNA_WEBHOOK_URLS (raises ConfigError on a bad entry)."""
        raw = self.settings.luna_webhook_urls
        return parse_webhook_urls(raw.get_secret_value() if raw else "")

    def secret(self) -> SecretStr | None:
        """The signing secret, or None when unset or empty."""
        value = self.settings.luna_webhook_secret
        return value if value is not None and value.get_secret_value() else None


def webhook_settings() -> NotifySettings:
    """Read the notify settings now, or raise ConfigError naming the bad variable."""
    return NotifySettings(load_settings())
