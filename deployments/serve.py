"""Serve every deployment of prefect.yaml from this process: schedules, webhook triggers
and ad-hoc runs with no work pool and no worker (`python -m deployments.serve [NAME ...]`,
where NAME is a deployment name such as `smoke` - every flow's - or `flow/name`).

prefect.yaml stays the one definition: this reads it and builds the same deployments
with `flow.to_deployment`, keeping each schedule's `active` flag and its `triggers:`.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def load_definitions(path: Path = ROOT / "prefect.yaml") -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["deployments"])


def load_flow(entrypoint: str) -> Any:
    file, name = entrypoint.split(":")
    module = importlib.import_module(file.removesuffix(".py").replace("/", "."))
    return getattr(module, name)


def build(definition: dict[str, Any]) -> Any:
    from prefect.events.schemas.deployment_triggers import DeploymentTriggerTypes
    from prefect.schedules import Cron
    from pydantic import TypeAdapter

    schedules = [
        Cron(s["cron"], timezone=s.get("timezone"), active=s.get("active", True))
        for s in definition.get("schedules") or []
    ]
    adapter: TypeAdapter[Any] = TypeAdapter(DeploymentTriggerTypes)
    triggers = [adapter.validate_python(t) for t in definition.get("triggers") or []]
    return load_flow(definition["entrypoint"]).to_deployment(
        name=definition["name"],
        description=definition.get("description"),
        tags=definition.get("tags"),
        parameters=definition.get("parameters"),
        schedules=schedules or None,
        triggers=triggers or None,
    )


def selected(definition: dict[str, Any], names: set[str]) -> bool:
    """True when no names are given, or the deployment's `name` or `flow/name` is one of them."""
    if not names:
        return True
    flow_name = load_flow(definition["entrypoint"]).name
    return definition["name"] in names or f"{flow_name}/{definition['name']}" in names


def take_over(deployments: list[Any]) -> list[str]:
    """Point deployments that `prefect deploy` created at this process's code.

    Serving updates an existing deployment but leaves its code location alone (Prefect
    sends the path on create only), so a deployment made by `prefect deploy` would be
    run from its pull steps' location and crash. Returns the names taken over.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.exceptions import ObjectNotFound

    taken = []
    with get_client(sync_client=True) as client:
        for deployment in deployments:
            name = f"{deployment.flow_name}/{deployment.name}"
            try:
                existing = client.read_deployment_by_name(name)
            except ObjectNotFound:
                continue
            if existing.path != "." or existing.pull_steps:
                client.update_deployment(existing.id, DeploymentUpdate(path=".", pull_steps=None))
                taken.append(name)
    return taken


def main() -> None:
    from prefect import serve

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="deployments to serve, `name` or `flow/name` (default: all)")
    names = set(parser.parse_args().names)
    definitions = [d for d in load_definitions() if selected(d, names)]
    deployments = [build(d) for d in definitions]
    for name in take_over(deployments):
        print(f"{name}: was created by `prefect deploy`; its runs now load the code from this folder")
    serve(*deployments)


if __name__ == "__main__":
    main()
