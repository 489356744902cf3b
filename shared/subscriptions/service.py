"""Subscriptions: who may manage them, their filters and targets, their delivery log, redeliver and ping."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from shared.applications import service as applications
from shared.audit import service as audit
from shared.auth import roles
from shared.auth.principal import Principal
from shared.errors import Conflict, FieldError, Invalid, NotFound
from shared.events import outbox, rules, signing
from shared.events.tables import deliveries, events, subscriptions
from shared.events.targets import check_target
from shared.models import Shape
from shared.pagination import Id, Keyset, Timestamp, decode_cursor, keyset_page, page
from shared.platform.settings import get_settings
from shared.platform.work import UnitOfWork
from shared.subscriptions.schemas import DeliveryOut, SubscriptionIn, SubscriptionOut, SubscriptionPatch

public_subscription = Shape(SubscriptionOut)
public_delivery = Shape(DeliveryOut)
_DELIVERIES_NEWEST_FIRST = Keyset((deliveries.c.created_at, deliveries.c.id), (Timestamp, Id), descending=True)
PING = "ping"  # sent by `ping` only: no subscription filters on it, Pub/Sub never sees it


def may_manage(grants: Iterable[roles.Grant], applications_: Sequence[str] | None) -> bool:
    """An organisation-wide admin manages every subscription; an application's admin those limited
    to applications they are admin of, every one of them."""
    grants = list(grants)
    if not applications_:
        held = roles.role_on(grants)
        return held is not None and roles.at_least(held, "admin")
    return all(
        (held := roles.role_on(grants, application=name)) is not None and roles.at_least(held, "admin")
        for name in applications_
    )


def _require_manage(grants: Iterable[roles.Grant], applications_: Sequence[str] | None) -> None:
    if may_manage(grants, applications_):
        return
    if not applications_:
        roles.require(grants, "admin")  # raises, saying what is missing
    for name in applications_ or ():
        roles.require(grants, "admin", application=name)


def _check_applications(work: UnitOfWork, names: Sequence[str] | None) -> list[str] | None:
    if names is None:
        return None
    unknown = [n for n in dict.fromkeys(names) if not applications.exists(work.conn, n)]
    if unknown:
        raise Invalid(
            f"There is no application {', '.join(map(repr, unknown))}.",
            code="unknown_application",
            errors=[FieldError("applications", f"unknown application {n!r}") for n in unknown],
        )
    return sorted(set(names))


def _check_url(url: str) -> str:
    check_target(url, allow_private=get_settings().webhook_allow_private_targets)
    return url


def create_subscription(work: UnitOfWork, *, caller: Principal, subscription: SubscriptionIn) -> dict[str, Any]:
    """A subscription and its secret, which this answer alone shows."""
    actor = caller.actor
    names = _check_applications(work, subscription.applications)
    _require_manage(list(caller.grants), names)
    values = {
        "id": uuid.uuid4(),
        "url": _check_url(subscription.url),
        "secret": signing.new_secret(),
        "events": rules.check_event_filter(subscription.events),
        "applications": names,
        "format": subscription.format,
        "description": subscription.description,
        "active": True,
        "created_by": actor,
        "created_at": work.now,
        "updated_at": work.now,
    }
    row = work.conn.execute(subscriptions.insert().values(**values).returning(subscriptions)).one()
    _audit(work, actor, "subscription.created", row)
    return public_subscription(row) | {"secret": row.secret}


def list_subscriptions(
    work: UnitOfWork, *, grants: Iterable[roles.Grant], limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The subscriptions the caller may manage, oldest first."""
    grants = list(grants)
    query = sa.select(subscriptions).order_by(subscriptions.c.created_at, subscriptions.c.id)
    if cursor:
        position = decode_cursor(cursor, (Timestamp, Id))
        query = query.where(sa.tuple_(subscriptions.c.created_at, subscriptions.c.id) > position)
    found: list[dict[str, Any]] = []
    for row in work.conn.execute(query):
        if may_manage(grants, row.applications):
            found.append(public_subscription(row))
        if len(found) > limit:
            break
    return page(found, limit, lambda s: [s["created_at"].isoformat(), str(s["id"])])


def _load(work: UnitOfWork, subscription_id: uuid.UUID, grants: Iterable[roles.Grant], *, lock: bool = False) -> Any:
    query = sa.select(subscriptions).where(subscriptions.c.id == subscription_id)
    row = work.conn.execute(query.with_for_update() if lock else query).first()
    if row is None or not may_manage(grants, row.applications):
        # Someone who may not manage it learns nothing of it, not even that it exists.
        raise NotFound("No such subscription.", code="subscription_not_found")
    return row


def get_subscription(work: UnitOfWork, *, subscription_id: uuid.UUID, grants: Iterable[roles.Grant]) -> dict[str, Any]:
    return public_subscription(_load(work, subscription_id, list(grants)))


def update_subscription(
    work: UnitOfWork,
    *,
    subscription_id: uuid.UUID,
    caller: Principal,
    patch: SubscriptionPatch,
) -> dict[str, Any]:
    """Change a subscription's target, filters, format, description, or turn it back on (the fields
    the patch sent; `applications: null` covers every application again)."""
    grants, actor = list(caller.grants), caller.actor
    _load(work, subscription_id, grants, lock=True)
    values: dict[str, Any] = {}
    if patch.url is not None:
        values["url"] = _check_url(patch.url)
    if patch.events is not None:
        values["events"] = rules.check_event_filter(patch.events)
    if "applications" in patch.model_fields_set:
        values["applications"] = _check_applications(work, patch.applications)
        _require_manage(grants, values["applications"])  # no widening past what the caller manages
    if patch.format is not None:
        values["format"] = patch.format
    if patch.description is not None:
        values["description"] = patch.description
    if patch.active is not None:
        values["active"] = patch.active
        if patch.active:
            values["disabled_reason"] = None
    row = work.conn.execute(
        sa.update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(**values, updated_at=work.now)
        .returning(subscriptions)
    ).one()
    _audit(work, actor, "subscription.updated", row)
    return public_subscription(row)


def delete_subscription(
    work: UnitOfWork, *, subscription_id: uuid.UUID, actor: str, grants: Iterable[roles.Grant]
) -> None:
    """Delete a subscription and its delivery log."""
    row = _load(work, subscription_id, list(grants), lock=True)
    work.conn.execute(sa.delete(subscriptions).where(subscriptions.c.id == subscription_id))
    _audit(work, actor, "subscription.deleted", row)


def list_deliveries(
    work: UnitOfWork, *, subscription_id: uuid.UUID, grants: Iterable[roles.Grant], limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A subscription's deliveries, newest first."""
    _load(work, subscription_id, list(grants))
    query = sa.select(deliveries).where(deliveries.c.subscription_id == subscription_id)
    rows, next_cursor = keyset_page(work.conn, query, _DELIVERIES_NEWEST_FIRST, limit=limit, cursor=cursor)
    return [public_delivery(r) for r in rows], next_cursor


def redeliver(
    work: UnitOfWork,
    *,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    actor: str,
    grants: Iterable[roles.Grant],
) -> dict[str, Any]:
    """Send a delivery's event again, as a new delivery (the same `webhook-id`), as soon as possible:
    only an event of an application the caller may see, and one the subscription still covers (its
    filters may have narrowed since, and its manager may not be who managed it then)."""
    grants = list(grants)
    subscription = _load(work, subscription_id, grants)
    old = work.conn.execute(
        sa.select(deliveries.c.event_id, deliveries.c.event_type, events.c.application)
        .join(events, events.c.id == deliveries.c.event_id)
        .where(deliveries.c.id == delivery_id, deliveries.c.subscription_id == subscription.id)
    ).first()
    if old is None:
        raise NotFound("No such delivery.", code="delivery_not_found")
    if old.application is not None:
        roles.require(grants, "viewer", application=old.application)
    if old.event_type != PING and not rules.matches(
        events=subscription.events,
        applications=subscription.applications,
        event_type=old.event_type,
        application=old.application,
    ):
        raise Conflict(
            f"This subscription no longer covers {old.event_type} events"
            + (f" of {old.application}" if old.application else "")
            + "; only an event it would send now can be sent again.",
            code="event_not_covered",
        )
    values = outbox.new_delivery(
        subscription_id=subscription.id, event_id=old.event_id, event_type=old.event_type, now=work.now
    )
    row = work.conn.execute(deliveries.insert().values(**values).returning(deliveries)).one()
    outbox.wake_after_commit(work)
    return public_delivery(row)


def ping(work: UnitOfWork, *, subscription_id: uuid.UUID, actor: str, grants: Iterable[roles.Grant]) -> dict[str, Any]:
    """A `ping` event to this subscription alone, to check the target and the signature."""
    subscription = _load(work, subscription_id, list(grants))
    event_id = outbox.store(
        work,
        event_type=PING,
        data={"subscription_id": str(subscription.id), "actor": actor},
        subscribers=[subscription],
        only=True,
    )
    row = work.conn.execute(sa.select(deliveries).where(deliveries.c.event_id == event_id)).one()
    outbox.wake_after_commit(work)
    return public_delivery(row)


def _audit(work: UnitOfWork, actor: str, action: str, row: Any) -> None:
    audit.record(
        work,
        actor=actor,
        action=action,
        entity_type="subscription",
        entity_id=row.id,
        # The host only: a chat webhook's URL is itself a credential.
        data={"host": urlsplit(row.url).hostname, "events": row.events, "applications": row.applications},
    )
