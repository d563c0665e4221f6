"""Delivery of gateway events to Prefect.

``prefect.events.emit_event`` queues an event on a background worker and returns at once;
if the server is down the event is dropped with a log line, and the sender has already
been told 202. The gateway instead sends the same :class:`prefect.events.Event` through
Prefect's events client and awaits it, so a Prefect outage answers 502 and GitHub/GitLab
keep the delivery for a retry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.gateway.events import LunaEvent

Emitter = Callable[[LunaEvent], Awaitable[None]]


async def emit_to_prefect(event: LunaEvent) -> None:
    """Send one event to the Prefect API in PREFECT_API_URL; raises when it cannot."""
    from prefect.events import Event
    from prefect.events.clients import get_events_client

    async with get_events_client(reconnection_attempts=2) as client:
        await client.emit(Event(id=event.id, event=event.event, resource=event.resource, payload=event.payload))
