"""Who did something, as events name them: an account's id with its email."""

from __future__ import annotations

import uuid
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
