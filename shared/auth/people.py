"""Who did something, as events and pages name them: an account's id with its email, or its name."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from shared.auth.tables import users


def describe_actor(conn: sa.Connection, actor: str) -> dict[str, Any] | str:
    """`{id, email}` for a user's id; anything else (a service, the system) as it is."""
    try:
        user_id = uuid.UUID(actor)
    except ValueError:
        return actor
    email = conn.scalar(sa.select(users.c.email).where(users.c.id == user_id))
    return {"id": actor, "email": email}


def names_of(conn: sa.Connection, ids: Iterable[Any]) -> dict[str, str]:
    """Each user's display name (else email), by id as text, in one query; ids that are not a user's
    (a service, the system) are left out."""
    wanted = set()
    for value in ids:
        try:
            wanted.add(uuid.UUID(str(value)))
        except ValueError:
            continue
    if not wanted:
        return {}
    rows = conn.execute(
        sa.select(users.c.id, sa.func.coalesce(users.c.display_name, users.c.email).label("name")).where(
            users.c.id.in_(wanted)
        )
    )
    return {str(row.id): row.name for row in rows}
