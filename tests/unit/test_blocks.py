"""The ServiceAuth block: complete per mode, self-describing, and mapped onto settings."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from blocks.auth import ServiceAuth
from luna.settings import LunaSettings, apply_overrides

pytestmark = pytest.mark.unit


def test_every_field_describes_itself() -> None:
    for name, field in ServiceAuth.model_fields.items():
        assert field.description and field.description.endswith("."), name
    assert "ServiceAuth.load(" in (ServiceAuth.__doc__ or "")


def test_secrets_are_secretstr() -> None:
    for name in ("token", "basic_pass", "api_key", "client_secret"):
        assert "SecretStr" in str(ServiceAuth.model_fields[name].annotation), name


@pytest.mark.parametrize("mode,missing", [("bearer", "token"), ("basic", "basic_pass"), ("keycloak", "realm")])
def test_incomplete_mode_is_rejected(mode: str, missing: str) -> None:
    values = {"basic_user": "u", "keycloak_host": "http://127.0.0.1:1", "client_id": "c", "client_secret": "s"}
    with pytest.raises(ValidationError, match=missing):
        ServiceAuth(mode=mode, **values)


def test_block_replaces_the_environment_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_TOKEN", "from-env")
    base = LunaSettings()
    assert base.auth_mode == "bearer"
    block = ServiceAuth(mode="api_key", api_key=SecretStr("k"), api_key_header="X-Key")
    settings = apply_overrides(base, block.settings_overrides())
    assert settings.auth_mode == "api_key" and settings.auth_token is None
    assert settings.auth_api_key_header == "X-Key"
