"""The promotion path: environments in order, with their approvals and soak time."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared import etags
from shared.applications import rules as paths
from shared.applications import service as applications
from shared.audit import service as audit
from shared.auth import roles
from shared.connections import UNIQUE_VIOLATION, sqlstate
from shared.db import UnitOfWork
from shared.deployments.schemas import EnvironmentOut
from shared.deployments.tables import environments
from shared.errors import Conflict, PreconditionFailed
from shared.models import Shape
from shared.pagination import Position, decode_cursor, page

public_environment = Shape(EnvironmentOut)


def list_environments(work: UnitOfWork, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The promotion path, first stage first."""
    query = sa.select(environments).order_by(environments.c.position).limit(limit + 1)
    if cursor:
        query = query.where(environments.c.position > decode_cursor(cursor, (Position,))[0])
    rows, next_cursor = page(work.conn.execute(query).all(), limit, lambda r: [r.position])
    return [public_environment(r) for r in rows], next_cursor


def default_path(conn: sa.Connection) -> list[paths.Stage]:
    """The environments catalogue as a promotion path: what an application without its own follows."""
    rows = conn.execute(sa.select(environments).order_by(environments.c.position))
    return [paths.Stage(r.name, r.required_approvals, r.soak_minutes) for r in rows]


def promotion_path(conn: sa.Connection, application: str) -> list[paths.Stage]:
    """The path the gates follow for `application`: its own, else the default one."""
    return applications.own_path(conn, application) or default_path(conn)


def put_environment(
    work: UnitOfWork,
    *,
    name: str,
    position: int,
    required_approvals: int,
    soak_minutes: int,
    actor: str,
    if_match: Callable[[str], bool] | None = None,
    grants: Iterable[roles.Grant] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create or replace an environment (organisation-wide admins; `grants` None: a trusted caller);
    returns it and whether it is new."""
    if grants is not None:
        roles.require(grants, "admin")
    before = work.conn.execute(sa.select(environments).where(environments.c.name == name).with_for_update()).first()
    if if_match is not None:
        if before is None:
            raise PreconditionFailed(f"There is no environment {name!r} to match.", code="stale_etag")
        etags.check(public_environment(before), if_match)
    values = {
        "position": position,
        "required_approvals": required_approvals,
        "soak_minutes": soak_minutes,
        "updated_at": work.now,
    }
    try:
        with work.conn.begin_nested():
            row = work.conn.execute(
                pg_insert(environments)
                .values(name=name, **values)
                .on_conflict_do_update(index_elements=["name"], set_=values)
                .returning(environments)
            ).one()
    except sa.exc.DBAPIError as error:  # by SQLSTATE: pg8000's DB-API raises DatabaseError for it
        if sqlstate(error) == UNIQUE_VIOLATION:
            raise Conflict(f"Another environment is at position {position}.", code="position_taken") from None
        raise
    audit.record(
        work,
        actor=actor,
        action="environment.created" if before is None else "environment.updated",
        entity_type="environment",
        entity_id=name,
        data={
            "before": public_environment(before) if before is not None else None,
            "after": values | {"updated_at": None},
        },
    )
    return public_environment(row), before is None
