"""Freeze windows: stored, listed, and turned into `holds.Freeze` for the gates."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shared.applications import service as applications
from shared.audit import service as audit
from shared.auth import roles
from shared.auth.people import describe_actor
from shared.auth.principal import Principal
from shared.deployments import holds
from shared.deployments.hold_schemas import FreezeIn, FreezeOut
from shared.deployments.tables import environments, freezes
from shared.errors import FieldError, Invalid, NotFound
from shared.events import outbox
from shared.models import Shape
from shared.pagination import Id, Timestamp, decode_cursor, page
from shared.platform.work import UnitOfWork

# A freeze as the API shows it, given whether it is `active` now.
public_freeze = Shape(FreezeOut, given=("active",))
# What a freeze's creation records: what the API shows but who made it, when, and whether it is active.
_RECORDED = tuple(name for name in FreezeOut.model_fields if name not in ("id", "created_by", "created_at", "active"))


def window(row: Any) -> holds.Freeze:
    """A stored freeze as the rules see it."""
    return holds.Freeze(
        id=row.id,
        environment=row.environment,
        application=row.application,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        weekly=tuple(row.weekly or ()),
        timezone=row.timezone,
        reason=row.reason,
        allows_fixes=row.allow_fixes,
    )


def load_freezes(conn: sa.Connection, *, now: datetime | None = None) -> list[holds.Freeze]:
    """Every weekly window and every one-off window not yet over."""
    query = sa.select(freezes)
    if now is not None:
        query = query.where(sa.or_(freezes.c.weekly.is_not(None), freezes.c.ends_at > now))
    return [window(row) for row in conn.execute(query)]


def list_freezes(
    work: UnitOfWork,
    *,
    limit: int,
    cursor: str | None,
    environment: str | None = None,
    application: str | None = None,
    active: bool | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Freeze windows, oldest first (optionally only those covering now, an environment or an
    application), each with `active` now."""
    query = sa.select(freezes).order_by(freezes.c.created_at, freezes.c.id)
    if cursor:
        query = query.where(sa.tuple_(freezes.c.created_at, freezes.c.id) > decode_cursor(cursor, (Timestamp, Id)))
    found: list[dict[str, Any]] = []
    # Weekly windows are judged in Python (time zones), so the filters apply here; freezes are few.
    for row in work.conn.execute(query):
        if environment is not None and row.environment not in (None, environment):
            continue
        if application is not None and row.application not in (None, application):
            continue
        is_active = window(row).covers(work.now)
        if active is None or active == is_active:
            found.append(public_freeze(row, active=is_active))
        if len(found) > limit:
            break
    return page(found, limit, lambda f: [f["created_at"].isoformat(), str(f["id"])])


@outbox.describes("freeze")
def describe_freeze(conn: sa.Connection, freeze_id: str, data: Any, actor: str) -> dict[str, Any]:
    """A freeze's events carry what the audit record holds of it (a deleted one has no row left)."""
    return {"freeze": {"id": freeze_id, **data}, "actor": describe_actor(conn, actor)}


def _require_scope(grants: Iterable[roles.Grant], application: str | None, environment: str | None) -> None:
    """A freeze is a release manager's, there: for every environment (or application) it covers."""
    roles.require(grants, "release_manager", application=application, environment=environment)


def create_freeze(work: UnitOfWork, *, caller: Principal, freeze: FreezeIn) -> dict[str, Any]:
    """A one-off or weekly freeze window, for one environment or all, one application or all, by a
    release manager of what it covers."""
    _require_scope(caller.grants, freeze.application, freeze.environment)
    if freeze.application is not None and not applications.exists(work.conn, freeze.application):
        raise Invalid(
            f"There is no application {freeze.application!r}.",
            code="unknown_application",
            errors=[FieldError("application", "unknown application")],
        )
    if freeze.environment is not None:
        exists = work.conn.scalar(sa.select(environments.c.name).where(environments.c.name == freeze.environment))
        if exists is None:
            raise Invalid(
                f"There is no environment {freeze.environment!r}.",
                code="unknown_environment",
                errors=[FieldError("environment", "unknown environment")],
            )
    values = freeze.model_dump(mode="json", exclude_none=True)
    row = work.conn.execute(
        sa.insert(freezes)
        .values(id=uuid.uuid4(), created_by=uuid.UUID(caller.actor), created_at=work.now, **values)
        .returning(freezes)
    ).one()
    audit.record(
        work,
        actor=caller.actor,
        action="freeze.created",
        entity_type="freeze",
        entity_id=row.id,
        data={name: getattr(row, name) for name in _RECORDED},
    )
    return public_freeze(row, active=window(row).covers(work.now))


def delete_freeze(work: UnitOfWork, *, freeze_id: uuid.UUID, caller: Principal) -> None:
    """End a freeze window (a release manager of what it covers)."""
    row = work.conn.execute(sa.delete(freezes).where(freezes.c.id == freeze_id).returning(freezes)).first()
    if row is None:
        raise NotFound("No such freeze window.", code="freeze_not_found")
    _require_scope(caller.grants, row.application, row.environment)
    audit.record(
        work,
        actor=caller.actor,
        action="freeze.deleted",
        entity_type="freeze",
        entity_id=row.id,
        data={"environment": row.environment, "application": row.application, "reason": row.reason},
    )
