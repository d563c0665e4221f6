"""Verified webhook bodies -> Luna events. Plain functions, no I/O.

Every accepted delivery becomes one event named ``luna.webhook.<source>.<kind>`` about the
resource ``luna.service.<service>``, with a payload that always carries the same keys
(``target``, ``commit``, ``ref``, ``environment``, ``profile``, ``service``, ``source``,
``kind``, ``delivery``, ``sender``; None when unknown), so a deployment trigger can map
``{{ event.payload.target }}`` and ``{{ event.payload.commit }}`` into flow parameters.

What is used:

- GitHub ``deployment_status`` with state ``success``: target = ``environment_url`` (else
  the default target), commit = the deployment's sha, environment = its environment.
- GitHub ``push`` (not branch deletions): commit = ``after``, target = the default target.
- GitLab pipeline events with status ``success``: commit = sha, target = the pipeline
  variable ``LUNA_TARGET`` (else the default target), environment = a job's environment.
- generic: a JSON object ``{"target": ..., "commit": ..., "environment": ..., "event":
  "deploy", "service": ..., "profile": ...}``.

Anything else (a GitHub ping, a failed pipeline, a pending deployment) is :class:`Ignored`:
answered 200 with the reason, no event.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import BaseModel, Field

from app.gateway.verify import Rejected
from luna.errors import Ignored
from luna.settings import PROFILES
from luna.text import printable
from luna.urls import UrlRejected, allowed_by, origin, redact, web_url

# (LUNA_WEBHOOK_ALLOWED_HOSTS as lower-case host names, LUNA_ALLOWED_TARGETS entries); None = any
TargetRule = tuple[frozenset[str] | None, tuple[str, ...] | None]

# Names the gateway emits; generic deliveries choose their kind ("deploy" by default).
EVENT_NAMES = (
    "luna.webhook.github.deployment_status",
    "luna.webhook.github.push",
    "luna.webhook.gitlab.pipeline",
    "luna.webhook.generic.<kind>",
)
KIND = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,39}$")
MAX_TEXT = 500


class LunaEvent(BaseModel):
    """What the gateway emits to Prefect."""

    id: uuid.UUID
    event: str = Field(description="luna.webhook.<source>.<kind>")
    resource: dict[str, str]
    payload: dict[str, Any]


def _text(body: dict[str, Any], key: str, where: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Rejected(422, f"{where}.{key} must be a string")
    if len(value) > MAX_TEXT:
        raise Rejected(422, f"{where}.{key} is longer than {MAX_TEXT} characters")
    return value


def _obj(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    return value if isinstance(value, dict) else {}


def check_target(target: str | None, default: str | None, allowed: TargetRule | None) -> str:
    """The target to test: the payload's, else the default; an http(s) URL (the one URL
    model's re-serialised string) on an allowed host and in ``LUNA_ALLOWED_TARGETS``."""
    chosen = target or default
    if not chosen:
        raise Rejected(422, "the delivery names no target URL and LUNA_WEBHOOK_DEFAULT_TARGET is unset")
    try:
        url, where = web_url(chosen), origin(chosen)
    except UrlRejected as exc:
        raise Rejected(
            422, f"target {printable(chosen[:100])!r} is not an http(s) URL one parser reads alike: {exc}"
        ) from None
    hosts, targets = allowed if allowed is not None else (None, None)
    if hosts is not None and where.host not in hosts:
        raise Rejected(422, f"target host {where.host!r} is not in LUNA_WEBHOOK_ALLOWED_HOSTS")
    if targets is not None and not allowed_by(url, targets):
        raise Rejected(422, f"target {redact(url)!r} is not in LUNA_ALLOWED_TARGETS")
    return url


def make_event(
    source: str,
    kind: str,
    *,
    service: str | None,
    delivery: str | None,
    fields: dict[str, str | None],
) -> LunaEvent:
    name = service or "default"
    event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"luna.webhook:{source}:{delivery}") if delivery else uuid.uuid4()
    payload: dict[str, Any] = {
        "target": None,
        "commit": None,
        "ref": None,
        "environment": None,
        "profile": None,
        "sender": None,
        **fields,
        "service": name,
        "source": source,
        "kind": kind,
        "delivery": delivery,
    }
    return LunaEvent(
        id=event_id,
        event=f"luna.webhook.{source}.{kind}",
        resource={
            "prefect.resource.id": f"luna.service.{name}",
            "prefect.resource.name": name,
            "luna.webhook.source": source,
        },
        payload=payload,
    )


def from_generic(
    body: Any, *, delivery: str | None, default_target: str | None, allowed: TargetRule | None
) -> LunaEvent:
    if not isinstance(body, dict):
        raise Rejected(422, "the body must be a JSON object")
    kind = _text(body, "event", "body") or "deploy"
    if not KIND.match(kind):
        raise Rejected(422, "body.event must be lowercase letters, digits, '_', '.', '-' (at most 40)")
    profile = _text(body, "profile", "body")
    if profile is not None and profile not in PROFILES:
        raise Rejected(422, f"body.profile must be one of {', '.join(PROFILES)}")
    target = check_target(_text(body, "target", "body"), default_target, allowed)
    fields = {
        "target": target,
        "commit": _text(body, "commit", "body"),
        "ref": _text(body, "ref", "body"),
        "environment": _text(body, "environment", "body"),
        "profile": profile,
        "sender": _text(body, "sender", "body"),
    }
    return make_event("generic", kind, service=_text(body, "service", "body"), delivery=delivery, fields=fields)


def from_github(
    event: str | None, body: Any, *, delivery: str | None, default_target: str | None, allowed: TargetRule | None
) -> LunaEvent:
    if not event:
        raise Rejected(400, "missing X-GitHub-Event header")
    if event == "ping":
        raise Ignored("pong: the webhook reaches Luna")
    if not isinstance(body, dict):
        raise Rejected(422, "the body must be a JSON object")
    service = _text(_obj(body, "repository"), "full_name", "repository")
    sender = _text(_obj(body, "sender"), "login", "sender")
    if event == "deployment_status":
        status, deployment = _obj(body, "deployment_status"), _obj(body, "deployment")
        state = status.get("state")
        if state != "success":
            raise Ignored(f"deployment_status {state!r}: only 'success' starts a test")
        target = check_target(
            _text(status, "environment_url", "deployment_status") or _text(status, "target_url", "deployment_status"),
            default_target,
            allowed,
        )
        fields = {
            "target": target,
            "commit": _text(deployment, "sha", "deployment"),
            "ref": _text(deployment, "ref", "deployment"),
            "environment": _text(status, "environment", "deployment_status")
            or _text(deployment, "environment", "deployment"),
            "sender": sender,
        }
        return make_event("github", "deployment_status", service=service, delivery=delivery, fields=fields)
    if event == "push":
        if body.get("deleted"):
            raise Ignored("push that deletes a branch: nothing to test")
        fields = {
            "target": check_target(None, default_target, allowed),
            "commit": _text(body, "after", "body"),
            "ref": _text(body, "ref", "body"),
            "sender": sender,
        }
        return make_event("github", "push", service=service, delivery=delivery, fields=fields)
    raise Ignored(f"GitHub event {event!r} is not used (deployment_status and push are)")


def from_gitlab(
    event: str | None, body: Any, *, delivery: str | None, default_target: str | None, allowed: TargetRule | None
) -> LunaEvent:
    if not isinstance(body, dict):
        raise Rejected(422, "the body must be a JSON object")
    if body.get("object_kind") != "pipeline":
        raise Ignored(f"GitLab {event or body.get('object_kind')!r} events are not used (pipeline events are)")
    attributes = _obj(body, "object_attributes")
    status = attributes.get("status")
    if status != "success":
        raise Ignored(f"pipeline status {status!r}: only 'success' starts a test")
    variables = {
        v.get("key"): v.get("value")
        for v in attributes.get("variables") or []
        if isinstance(v, dict) and isinstance(v.get("value"), str)
    }
    environments = [
        _obj(b, "environment").get("name")
        for b in body.get("builds") or []
        if isinstance(b, dict) and isinstance(_obj(b, "environment").get("name"), str)
    ]
    fields = {
        "target": check_target(variables.get("LUNA_TARGET"), default_target, allowed),
        "commit": _text(attributes, "sha", "object_attributes"),
        "ref": _text(attributes, "ref", "object_attributes"),
        "environment": environments[0] if environments else None,
        "sender": _text(_obj(body, "user"), "username", "user"),
    }
    service = _text(_obj(body, "project"), "path_with_namespace", "project")
    return make_event("gitlab", "pipeline", service=service, delivery=delivery, fields=fields)
