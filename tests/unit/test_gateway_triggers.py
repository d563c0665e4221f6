"""prefect.yaml's `triggers:` fit the gateway: they validate as Prefect deployment triggers,
listen for event names the gateway emits, and their templated parameters, rendered from a
real gateway event, are parameters the flow accepts."""

from __future__ import annotations

import re
from typing import Any

import jinja2
import pytest
from prefect.events.schemas.deployment_triggers import DeploymentTriggerTypes
from pydantic import TypeAdapter

from app.gateway.events import EVENT_NAMES, LunaEvent, from_generic, from_github
from deployments.serve import load_definitions, load_flow

pytestmark = pytest.mark.unit
SINGLE = re.compile(r"^\{\{(.*)\}\}$")


def triggered() -> list[dict[str, Any]]:
    return [d for d in load_definitions() if d.get("triggers")]


def render(value: Any, event: LunaEvent) -> Any:
    """What Prefect's run-deployment action does: a lone `{{ expr }}` keeps its type."""
    context = {"event": {"payload": event.payload, "resource": {"id": event.resource["prefect.resource.id"]}}}
    if isinstance(value, dict):
        return {k: render(v, event) for k, v in value.items()}
    if isinstance(value, str) and (match := SINGLE.match(value.strip())):
        return jinja2.Environment(undefined=jinja2.StrictUndefined).compile_expression(match.group(1))(**context)
    return value


def test_some_deployment_listens_for_deploy_webhooks() -> None:
    assert triggered(), "no deployment in prefect.yaml has a webhook trigger"


@pytest.mark.parametrize("definition", triggered(), ids=lambda d: d["name"])
def test_triggers_validate_and_map_gateway_events_to_valid_parameters(definition: dict[str, Any]) -> None:
    flow = load_flow(definition["entrypoint"])
    patterns = [re.escape(n).replace(re.escape("<kind>"), r"[a-z0-9][a-z0-9_.\-]*") for n in EVENT_NAMES]
    events = [
        from_generic(
            {"target": "http://127.0.0.1:8787", "commit": "abc", "service": "shop"},
            delivery="d1",
            default_target=None,
            allowed=None,
        ),
        from_github(
            "deployment_status",
            {
                "deployment_status": {"state": "success", "environment_url": "http://127.0.0.1:8787"},
                "deployment": {"sha": "abc"},
            },
            delivery="d2",
            default_target=None,
            allowed=None,
        ),
    ]
    for spec in definition["triggers"]:
        trigger = TypeAdapter(DeploymentTriggerTypes).validate_python(spec)  # type: ignore[var-annotated,arg-type]
        assert trigger.enabled
        for name in trigger.expect:
            assert any(re.fullmatch(p, name) for p in patterns), f"{name} is never emitted by the gateway"
        assert trigger.match.root["prefect.resource.id"] == "luna.service.*"
        for event in events:
            if event.event not in trigger.expect:
                continue
            parameters = render(spec.get("parameters") or {}, event)
            flow.validate_parameters(parameters)
            rendered = str(parameters)
            assert "http://127.0.0.1:8787" in rendered and "{{" not in rendered


def test_served_deployments_keep_their_triggers_and_can_be_picked_by_flow() -> None:
    from deployments.serve import build, selected

    definitions = load_definitions()
    for definition in triggered():
        [trigger] = build(definition).triggers
        assert trigger.parameters == definition["triggers"][0]["parameters"]
    smoke = [d for d in definitions if selected(d, {"smoke"})]
    only = [d for d in definitions if selected(d, {"test-service/smoke"})]
    assert len(smoke) == 2 and len(only) == 1 and only[0]["entrypoint"].startswith("flows/test_service.py")
    assert all(selected(d, set()) for d in definitions)
