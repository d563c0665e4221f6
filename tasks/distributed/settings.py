"""Settings of distributed runs (environment and .env, like LunaSettings)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from luna.errors import ConfigError


class DistributedSettings(BaseSettings):
    """Where shards run. Field names map to upper-case environment variables (not LUNA_*:
    LunaSettings refuses LUNA_ names it does not know)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    dask_address: str | None = Field(
        None, description="Dask scheduler of an existing cluster, e.g. tcp://10.0.0.5:8786 (unset: a local cluster)."
    )
    shard_ready_timeout_s: float = Field(
        120.0, gt=0, le=3600, description="How long ready shards wait for the last one before the run fails."
    )
    shard_engine: Literal["dask", "work-pool"] = Field(
        "dask", description="Where shards run: tasks on a Dask cluster, or one flow run per shard on a work pool."
    )
    shard_deployment: str = Field(
        "load-shard/default",
        pattern=r"^[^/]+/[^/]+$",
        description="work-pool engine: the `load_shard` deployment (flow/deployment) each shard runs.",
    )
    dask_workers: int | None = Field(
        None, ge=1, le=64, description="Worker processes of the local Dask cluster (default: min(shards, cores))."
    )


def load_distributed_settings() -> DistributedSettings:
    from pydantic import ValidationError

    try:
        return DistributedSettings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "setting"
        raise ConfigError(f"{name}: {err['msg']}", tip="fix or unset it in the environment or .env") from None
