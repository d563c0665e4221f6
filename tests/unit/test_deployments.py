"""prefect.yaml: every entrypoint imports, every deployment builds, schedules ship inactive."""

from __future__ import annotations

import pytest

from deployments.serve import build, load_definitions, load_flow

pytestmark = pytest.mark.unit


def test_every_entrypoint_imports_a_flow() -> None:
    from prefect import Flow

    for definition in load_definitions():
        assert isinstance(load_flow(definition["entrypoint"]), Flow), definition["name"]


def test_every_deployment_builds_with_valid_parameters() -> None:
    names = set()
    for definition in load_definitions():
        deployment = build(definition)
        names.add(deployment.name)
        flow = load_flow(definition["entrypoint"])
        flow.validate_parameters(definition.get("parameters") or {})  # the server would reject bad ones
        for schedule in deployment.schedules or []:
            assert schedule.active is False, f"{definition['name']} ships with an active schedule"
    assert {"smoke", "ramp", "soak", "stress", "spike", "discover"} <= names


def test_scheduled_profiles() -> None:
    crons = {d["name"]: [s["cron"] for s in d.get("schedules") or []] for d in load_definitions()}
    assert crons["smoke"] == ["0 * * * *"] and crons["soak"] == ["0 2 * * *"] and crons["stress"] == ["0 3 * * 0"]
