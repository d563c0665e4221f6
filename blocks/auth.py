"""Credentials of a service under test, kept in Prefect instead of the worker's environment.

    from blocks.auth import ServiceAuth

    ServiceAuth(mode="bearer", token="...").save("my-api")
    auth = ServiceAuth.load("my-api")

Run a load test with them: the `load_test` flow's `auth_block` parameter (or `luna run
--auth-block my-api`). The block's values replace the AUTH_* settings for that run only;
they reach k6 through its process environment and never a log, artifact or report.
Register the type for the UI with `prefect block register -m blocks.auth`.
"""

from __future__ import annotations

from typing import Any, Literal

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, model_validator

REQUIRED: dict[str, tuple[str, ...]] = {
    "bearer": ("token",),
    "basic": ("basic_user", "basic_pass"),
    "api_key": ("api_key",),
    "keycloak": ("keycloak_host", "realm", "client_id", "client_secret"),
}


class ServiceAuth(Block):
    """How Luna authenticates to the service under test (one of four modes).

    Example:
        ```python
        from blocks.auth import ServiceAuth

        auth = ServiceAuth.load("BLOCK_NAME")
        ```
    """

    _block_type_name = "Luna Service Auth"
    _description = "Credentials Luna's k6 runner sends to the service under test."

    mode: Literal["bearer", "basic", "api_key", "keycloak"] = Field(description="Which auth mode to use.")
    token: SecretStr | None = Field(None, description="Static Bearer token (mode bearer).")
    basic_user: str | None = Field(None, description="HTTP Basic user (mode basic).")
    basic_pass: SecretStr | None = Field(None, description="HTTP Basic password (mode basic).")
    api_key: SecretStr | None = Field(None, description="API key value (mode api_key).")
    api_key_header: str = Field("X-API-Key", description="Header that carries the API key (mode api_key).")
    keycloak_host: str | None = Field(None, description="Keycloak base URL (mode keycloak).")
    realm: str | None = Field(None, description="Keycloak realm (mode keycloak).")
    client_id: str | None = Field(None, description="Keycloak client id (mode keycloak).")
    client_secret: SecretStr | None = Field(None, description="Keycloak client secret (mode keycloak).")

    @model_validator(mode="after")
    def _complete(self) -> ServiceAuth:
        missing = [f for f in REQUIRED[self.mode] if getattr(self, f) in (None, "")]
        if missing:
            raise ValueError(f"mode {self.mode} needs {', '.join(missing)}")
        return self

    def settings_overrides(self) -> dict[str, Any]:
        """LunaSettings fields for this mode; every other auth field is cleared."""
        values: dict[str, Any] = dict.fromkeys(
            (
                "auth_token",
                "auth_basic_user",
                "auth_basic_pass",
                "auth_api_key",
                "auth_host",
                "auth_realm",
                "auth_client_id",
                "auth_client_secret",
            ),
            None,
        )
        if self.mode == "bearer":
            values["auth_token"] = self.token
        elif self.mode == "basic":
            values.update(auth_basic_user=self.basic_user, auth_basic_pass=self.basic_pass)
        elif self.mode == "api_key":
            values.update(auth_api_key=self.api_key, auth_api_key_header=self.api_key_header)
        else:
            values.update(
                auth_host=self.keycloak_host,
                auth_realm=self.realm,
                auth_client_id=self.client_id,
                auth_client_secret=self.client_secret,
            )
        return values
