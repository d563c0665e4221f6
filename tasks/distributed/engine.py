"""The Dask task runner for a sharded run: DASK_ADDRESS's cluster, or a local one whose
worker processes talk to this process's Prefect API (the temporary server included, so
they do not each start their own)."""

from __future__ import annotations

from typing import Any

from tasks.distributed.coordinate import local_cluster_kwargs
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


def dask_task_runner(settings: DistributedSettings, shards: int) -> Any:
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    kwargs = local_cluster_kwargs(shards, settings.dask_workers)
    api = prefect_api_url()
    if api:
        kwargs["env"] = {"PREFECT_API_URL": api}
    return DaskTaskRunner(cluster_kwargs=kwargs)
