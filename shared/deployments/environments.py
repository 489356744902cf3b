"""The promotion path: environments in order, with their approvals and soak time."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.audit import service as audit
from shared.db import UnitOfWork, sqlstate
from shared.deployments.tables import environments
from shared.errors import Conflict

UNIQUE_VIOLATION = "23505"


def public_environment(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "position": row.position,
        "required_approvals": row.required_approvals,
        "soak_minutes": row.soak_minutes,
        "updated_at": row.updated_at,
    }


def list_environments(work: UnitOfWork) -> list[dict[str, Any]]:
    """The promotion path, first stage first."""
    return [public_environment(r) for r in work.conn.execute(sa.select(environments).order_by(environments.c.position))]


def put_environment(
    work: UnitOfWork, *, name: str, position: int, required_approvals: int, soak_minutes: int, actor: str
) -> tuple[dict[str, Any], bool]:
    """Create or replace an environment; returns it and whether it is new."""
    before = work.conn.execute(sa.select(environments).where(environments.c.name == name)).first()
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
    except sa.exc.IntegrityError as error:
        if sqlstate(error) == UNIQUE_VIOLATION:
            raise Conflict(f"Another environment is at position {position}.", code="position_taken") from None
        raise
    audit.record(
        work.conn,
        actor=actor,
        action="environment.created" if before is None else "environment.updated",
        entity_type="environment",
        entity_id=name,
        data={
            "before": public_environment(before) if before is not None else None,
            "after": values | {"updated_at": None},
        },
        now=work.now,
    )
    return public_environment(row), before is None
