"""prefect.yaml: every entrypoint imports, every deployment builds, schedules ship inactive."""

from __future__ import annotations

import pytest

from deployments.serve import build, load_definitions, load_flow

pytestmark = pytest.mark.unit


def test_every_entrypoint_imports_a_flow() -> None:
    from prefect import Flow

    for definition in load_definitions():
        assert isinstance(load_flow(definition["entrypoint"]), Flow), definition["name"]


# Deployments that only a coordinator runs, with parameters it fills per run.
RUN_TIME_PARAMETERS = {"flows/distributed.py:load_shard": {"job"}}  # one shard's ShardJob (SHARD_ENGINE=work-pool)


def test_every_deployment_builds_with_valid_parameters() -> None:
    names = set()
    for definition in load_definitions():
        deployment = build(definition)
        names.add(deployment.name)
        flow = load_flow(definition["entrypoint"])
        parameters = definition.get("parameters") or {}
        entrypoint = definition["entrypoint"]
        if entrypoint in RUN_TIME_PARAMETERS:  # filled per run by the caller, never by a schedule
            assert not deployment.schedules and not definition.get("triggers"), entrypoint
            required = set(flow.parameters.required or [])
            assert required - set(parameters) == RUN_TIME_PARAMETERS[entrypoint], entrypoint
            continue
        flow.validate_parameters(parameters)  # the server would reject bad ones
        for schedule in deployment.schedules or []:
            assert schedule.active is False, f"{definition['name']} ships with an active schedule"
    assert {"smoke", "ramp", "soak", "stress", "spike", "discover"} <= names


def test_scheduled_profiles() -> None:
    crons = {d["name"]: [s["cron"] for s in d.get("schedules") or []] for d in load_definitions()}
    assert crons["smoke"] == ["0 * * * *"] and crons["soak"] == ["0 2 * * *"] and crons["stress"] == ["0 3 * * 0"]
