"""The outbox: each audited change's events, written in the change's own transaction.

`audit.record` calls `emit` for every record it appends. `emit` asks `rules.events_for` which
events the action yields, builds each (the release / deployment as the API shows it, read in this
transaction, with `application`, `environment` and the actor), stores it in `events` and adds one
pending delivery per active subscription that wants it. Nothing leaves the process here: once the
transaction commits, `dispatch` is woken (after-commit hook) and Cloud Scheduler's call of
`POST /releases/events/dispatch` catches up with whatever a crashed instance left due.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shared.events import formats, rules
from shared.events.tables import deliveries, events, subscriptions
from shared.platform.settings import get_settings
from shared.platform.work import UnitOfWork

# What an entity looks like in an event's `data`, by audit entity type. Each concept registers its
# own (`describes`) in the module that records its changes, so whoever records a change has
# registered how to describe it, and this package needs none of theirs (they all need this one).
Describer = Callable[[sa.Connection, str, Mapping[str, Any], str], dict[str, Any]]
_DESCRIBERS: dict[str, Describer] = {}


def describes(entity_type: str) -> Callable[[Describer], Describer]:
    """Register how events describe an `entity_type`: (conn, entity_id, audit data, actor) -> the
    event's `data` fields (`release`, `deployment`, `application`, `environment`, `actor`...; and
    `approvers`, in words, for an approval request: kept out of `data`, used by chat formats)."""

    def register(describer: Describer) -> Describer:
        _DESCRIBERS[entity_type] = describer
        return describer

    return register


def emit(
    work: UnitOfWork, *, action: str, actor: str, entity_type: str, entity_id: object, data: Mapping[str, Any]
) -> list[uuid.UUID]:
    """Store the events `action` yields, with their deliveries, in the unit's transaction; the ids."""
    types = rules.events_for(action, data)
    if not types:
        return []
    conn = work.conn
    active = conn.execute(sa.select(subscriptions).where(subscriptions.c.active)).all()
    if not active and not get_settings().pubsub_topic_path:
        return []  # nobody to tell: a subscription made later starts with the events after it
    payload = _payload(conn, actor=actor, entity_type=entity_type, entity_id=entity_id, data=data)
    return [store(work, event_type=event_type, data=payload, subscribers=active) for event_type in types]


def store(
    work: UnitOfWork,
    *,
    event_type: str,
    data: Mapping[str, Any],
    subscribers: Any,
    only: bool = False,
) -> uuid.UUID:
    """One event row and a delivery for each subscriber that wants it (`only`: every one given)."""
    conn, now = work.conn, work.now
    data = dict(data)
    approvers = data.pop("approvers", None) if event_type == "deployment.pending_approval" else None
    data.pop("approvers", None)
    event = formats.new_event(type=event_type, data=data, now=now)
    application, environment = data.get("application"), data.get("environment")
    publish = bool(get_settings().pubsub_topic_path) and event_type in rules.EVENT_TYPES
    conn.execute(
        events.insert().values(
            id=uuid.UUID(event["id"]),
            type=event_type,
            occurred_at=now,
            application=application,
            environment=environment,
            body=json.loads(formats.to_json(event)),
            approvers=approvers,
            published_at=None if publish else now,  # nothing to publish: never looked at again
        )
    )
    wanted = (
        list(subscribers) if only else rules.subscribers(subscribers, event_type=event_type, application=application)
    )
    if wanted or publish:
        wake_after_commit(work)  # nothing to send: no thread is woken, no statement run
    if wanted:
        conn.execute(
            deliveries.insert(),
            [new_delivery(subscription_id=s.id, event_id=event["id"], event_type=event_type, now=now) for s in wanted],
        )
    return uuid.UUID(event["id"])


def new_delivery(*, subscription_id: Any, event_id: Any, event_type: str, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "subscription_id": subscription_id,
        "event_id": uuid.UUID(str(event_id)),
        "event_type": event_type,
        "attempt": 0,
        "status": "pending",
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def wake_after_commit(work: UnitOfWork) -> None:
    """Once the transaction commits, the instance's dispatcher sends what is due (never before)."""
    from shared.events import dispatch

    work.after_commit(dispatch.wake, key="events-dispatch")


def _payload(
    conn: sa.Connection, *, actor: str, entity_type: str, entity_id: object, data: Mapping[str, Any]
) -> dict[str, Any]:
    """The event's `data`: the entity as the API shows it now, in this transaction, with
    `application`, `environment` and `actor`."""
    payload: dict[str, Any] = {
        "application": data.get("application"),
        "environment": data.get("environment"),
        "actor": actor,
    }
    describer = _DESCRIBERS.get(entity_type)
    if describer is not None:
        payload.update(describer(conn, str(entity_id), data, actor))
    return payload
