"""Settings of distributed runs: the `shards` section of LunaSettings (DASK_ADDRESS,
SHARD_ENGINE, SHARD_READY_TIMEOUT_S, SHARD_DEPLOYMENT, DASK_WORKERS; environment or .env)."""

from __future__ import annotations

from luna.sections import ShardSettings
from luna.settings import load_settings

DistributedSettings = ShardSettings


def load_distributed_settings() -> ShardSettings:
    """The shards section, or a ConfigError naming the bad variable."""
    return load_settings().shards
