"""Environment locks ("stop the line"): who locked an environment (for one application or every one),
when and why; nothing new starts there until it is unlocked, or its `unlock_at` passes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shared.applications import service as applications
from shared.audit import service as audit
from shared.auth import roles
from shared.auth.people import describe_actor
from shared.auth.principal import Principal
from shared.auth.tables import service_accounts, users
from shared.deployments import holds, rules
from shared.deployments.environments import environment_row
from shared.deployments.hold_schemas import LockIn, LockOut, LockQuery, UnlockIn
from shared.deployments.tables import environment_locks
from shared.errors import Conflict, FieldError, Invalid, NotFound
from shared.events import outbox
from shared.models import Shape
from shared.pagination import Id, Keyset, Timestamp, keyset_page
from shared.platform.work import UnitOfWork

# A lock as the API shows it, given whether it holds now and who locked (and unlocked) it.
public_lock = Shape(LockOut, given=("active", "locked_by", "unlocked_by"))
_NEWEST_FIRST = Keyset((environment_locks.c.locked_at, environment_locks.c.id), (Timestamp, Id), descending=True)


def _holds_now(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        environment_locks.c.unlocked_at.is_(None),
        sa.or_(environment_locks.c.unlock_at.is_(None), environment_locks.c.unlock_at > now),
    )


def _person(conn: sa.Connection, user_id: uuid.UUID | None) -> dict[str, Any] | None:
    """`{id, email, display_name}` of whoever locked or unlocked (a service account has no email)."""
    if user_id is None:
        return None
    row = conn.execute(sa.select(users.c.email, users.c.display_name).where(users.c.id == user_id)).first()
    if row is not None:
        return {"id": user_id, "email": row.email, "display_name": row.display_name}
    name = conn.scalar(sa.select(service_accounts.c.display_name).where(service_accounts.c.id == user_id))
    return {"id": user_id, "email": None, "display_name": name}


def _shown(conn: sa.Connection, row: Any, now: datetime) -> dict[str, Any]:
    return public_lock(
        row,
        active=row.unlocked_at is None and (row.unlock_at is None or row.unlock_at > now),
        locked_by=_person(conn, row.locked_by),
        unlocked_by=_person(conn, row.unlocked_by),
    )


def as_rule(conn: sa.Connection, row: Any) -> holds.Lock:
    """A stored lock as the gates see it, with its locker named as a refusal names them."""
    person = _person(conn, row.locked_by) or {}
    who = person.get("display_name") or person.get("email") or str(row.locked_by)
    if person.get("email") and person.get("display_name"):
        who = f"{person['display_name']} <{person['email']}>"
    return holds.Lock(
        id=row.id,
        environment=row.environment,
        application=row.application,
        reason=row.reason,
        locked_by=who,
        locked_at=row.locked_at,
        unlock_at=row.unlock_at,
    )


def load_locks(conn: sa.Connection, *, now: datetime, environment: str) -> list[holds.Lock]:
    """The locks holding `environment` at `now` (for any application). A caller about to start work
    holds the environment's row FOR SHARE first (`environment_row(lock="share")`), so a lock being
    made now (which holds it FOR UPDATE) is either seen, or waits for that transaction: nothing
    starts past a lock committed while it was checked."""
    query = sa.select(environment_locks).where(environment_locks.c.environment == environment, _holds_now(now))
    return [as_rule(conn, row) for row in conn.execute(query.order_by(environment_locks.c.locked_at))]


@outbox.describes("lock")
def describe_lock(conn: sa.Connection, lock_id: str, data: Any, actor: str) -> dict[str, Any]:
    """A lock's events carry what its audit record holds, and who acted."""
    return {"lock": {"id": lock_id, **data}, "actor": describe_actor(conn, actor)}


def lock(work: UnitOfWork, *, caller: Principal, body: LockIn) -> dict[str, Any]:
    """Lock an environment (for one application, or every one), by a release manager there; 409
    `already_locked` when a lock of the same scope holds already (it names that lock)."""
    roles.require(caller.grants, "release_manager", application=body.application, environment=body.environment)
    if body.application is not None and not applications.exists(work.conn, body.application):
        raise Invalid(
            f"There is no application {body.application!r}.",
            code="unknown_application",
            errors=[FieldError("application", "unknown application")],
        )
    if body.unlock_at is not None and body.unlock_at <= work.now:
        raise Invalid(
            "unlock_at is in the past: a lock that ends before it begins stops nothing.",
            errors=[FieldError("unlock_at", "must be in the future")],
        )
    # The environment's row, locked: two locks of one scope at once cannot both pass the check.
    environment_row(work.conn, body.environment, lock="update")
    same_scope = (
        environment_locks.c.application.is_(None)
        if body.application is None
        else environment_locks.c.application == body.application
    )
    held = work.conn.execute(
        sa.select(environment_locks).where(
            environment_locks.c.environment == body.environment, same_scope, _holds_now(work.now)
        )
    ).first()
    if held is not None:
        raise Conflict(
            rules.locked(body.environment, [as_rule(work.conn, held)]).detail,
            code="already_locked",
            errors=[FieldError(None, f"lock {held.id}", code="already_locked")],
        )
    row = work.conn.execute(
        sa.insert(environment_locks)
        .values(
            id=uuid.uuid4(),
            environment=body.environment,
            application=body.application,
            reason=body.reason,
            unlock_at=body.unlock_at,
            locked_by=uuid.UUID(caller.actor),
            locked_at=work.now,
        )
        .returning(environment_locks)
    ).one()
    _record(work, caller, "environment.locked", row)
    return _shown(work.conn, row, work.now)


def unlock(work: UnitOfWork, *, lock_id: uuid.UUID, caller: Principal, body: UnlockIn) -> dict[str, Any]:
    """Unlock, by whoever may lock that scope; the lock stays on record. 409 `not_locked` when it no
    longer holds (unlocked already, or its time passed)."""
    row = work.conn.execute(
        sa.select(environment_locks).where(environment_locks.c.id == lock_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound("No such lock.", code="lock_not_found")
    roles.require(caller.grants, "release_manager", application=row.application, environment=row.environment)
    if row.unlocked_at is not None or (row.unlock_at is not None and row.unlock_at <= work.now):
        raise Conflict("The lock no longer holds; there is nothing to unlock.", code="not_locked")
    row = work.conn.execute(
        sa.update(environment_locks)
        .where(environment_locks.c.id == lock_id)
        .values(unlocked_at=work.now, unlocked_by=uuid.UUID(caller.actor), unlock_reason=body.reason)
        .returning(environment_locks)
    ).one()
    _record(work, caller, "environment.unlocked", row)
    return _shown(work.conn, row, work.now)


def get_lock(work: UnitOfWork, *, lock_id: uuid.UUID) -> dict[str, Any]:
    row = work.conn.execute(sa.select(environment_locks).where(environment_locks.c.id == lock_id)).first()
    if row is None:
        raise NotFound("No such lock.", code="lock_not_found")
    return _shown(work.conn, row, work.now)


def list_locks(work: UnitOfWork, query: LockQuery) -> tuple[list[dict[str, Any]], str | None]:
    """Locks, newest first: of an environment, of an application (with those of every application),
    only those holding now (`active=true`) or only those that ended (`active=false`)."""
    select = sa.select(environment_locks)
    if query.environment is not None:
        select = select.where(environment_locks.c.environment == query.environment)
    if query.application is not None:
        select = select.where(
            sa.or_(environment_locks.c.application.is_(None), environment_locks.c.application == query.application)
        )
    if query.active is not None:
        holds = _holds_now(work.now)
        select = select.where(holds if query.active else sa.not_(holds))
    rows, cursor = keyset_page(work.conn, select, _NEWEST_FIRST, limit=query.limit, cursor=query.cursor)
    return [_shown(work.conn, row, work.now) for row in rows], cursor


def _record(work: UnitOfWork, caller: Principal, action: str, row: Any) -> None:
    audit.record(
        work,
        actor=caller.actor,
        action=action,
        entity_type="lock",
        entity_id=row.id,
        data={
            "environment": row.environment,
            "application": row.application,
            "reason": row.reason,
            "unlock_at": row.unlock_at.isoformat() if row.unlock_at else None,
            "unlock_reason": row.unlock_reason,
        },
    )
