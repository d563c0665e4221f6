"""The Dask task runner for a sharded run: DASK_ADDRESS's cluster, or a local one whose
worker processes talk to this process's Prefect API (the temporary server included, so
they do not each start their own)."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

from luna.errors import ConfigError
from tasks.distributed.coordinate import local_cluster_kwargs
from tasks.distributed.model import ShardError
from tasks.distributed.settings import DistributedSettings


def prefect_api_url() -> str | None:
    """The API this process uses: PREFECT_API_URL, or the temporary server it started."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if url:
        return str(url)
    from prefect.server.api.server import SubprocessASGIServer

    running = [s for s in SubprocessASGIServer._instances.values() if s.running]
    return str(running[0].api_url) if running else None


def check_scheduler(address: str, timeout: float = 5.0) -> None:
    """Fail in one line, before anything starts, when nothing listens at DASK_ADDRESS
    (Dask itself would retry for 30 s and end in a traceback)."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if not parts.hostname or not parts.port:
        raise ConfigError(f"DASK_ADDRESS {address!r} has no host:port", tip="e.g. tcp://10.0.0.5:8786")
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            pass
    except OSError as exc:
        raise ShardError(
            f"cannot reach the Dask scheduler at {address} ({exc.strerror or type(exc).__name__})",
            location="DASK_ADDRESS",
            tip="start it (`dask scheduler`, then `dask worker <address>` on each load machine) "
            "or unset DASK_ADDRESS to run the shards on a local cluster",
        ) from None


def dask_task_runner(settings: DistributedSettings, shards: int) -> Any:
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        check_scheduler(settings.dask_address)
        return DaskTaskRunner(address=settings.dask_address)
    kwargs = local_cluster_kwargs(shards, settings.dask_workers)
    api = prefect_api_url()
    if api:
        kwargs["env"] = {"PREFECT_API_URL": api}
    return DaskTaskRunner(cluster_kwargs=kwargs)
