"""What the guard reads about a caller on a cache miss, as plain data the cache keeps: a user's
state (by id, or by the Identity-Aware Proxy identity attached to it), an API token's and a
service account's. Reads only: what a request changes, it changes through a service."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared.auth import roles
from shared.auth.bindings import caller_scope, of_service_account
from shared.auth.tables import api_tokens, service_accounts, users
from shared.platform.db import get_engine

_STATE = (users.c.email, users.c.role, users.c.is_active, users.c.auth_version)


def user_state(user_id: str) -> dict[str, Any] | None:
    """The user's email, role, active flag, credentials version, teams and bindings."""
    row_id = uuid.UUID(user_id)
    with get_engine().connect() as conn:
        row = conn.execute(sa.select(*_STATE).where(users.c.id == row_id)).first()
        if row is None:
            return None
        return row._asdict() | caller_scope(conn, row_id)


def iap_user_state(subject: str) -> dict[str, Any] | None:
    """The state of the account this IAP identity (`sub`) is attached to, with its id; None: none is yet."""
    with get_engine().connect() as conn:
        row = conn.execute(sa.select(users.c.id, *_STATE).where(users.c.iap_subject == subject)).first()
        if row is None:
            return None
        return row._asdict() | {"id": str(row.id)} | caller_scope(conn, row.id)


def api_token_state(prefix: str) -> dict[str, Any] | None:
    """The API token with this prefix: its owner, role, hash, expiry and revocation."""
    with get_engine().connect() as conn:
        row = conn.execute(
            sa.select(
                api_tokens.c.id,
                api_tokens.c.user_id,
                api_tokens.c.role,
                api_tokens.c.token_hash,
                api_tokens.c.expires_at,
                api_tokens.c.revoked_at,
            ).where(api_tokens.c.prefix == prefix)
        ).first()
    return row._asdict() if row is not None else None


def service_account_state(conn: sa.Connection, service_account_id: uuid.UUID) -> dict[str, Any] | None:
    """A service account's name, active flag, credentials version, the time it was made and its
    bindings' scopes (`[role, application, environments]`)."""
    row = conn.execute(
        sa.select(
            service_accounts.c.name,
            service_accounts.c.display_name,
            service_accounts.c.is_active,
            service_accounts.c.auth_version,
            service_accounts.c.created_at,
        ).where(service_accounts.c.id == service_account_id)
    ).first()
    if row is None:
        return None
    return row._asdict() | {
        "created_at": row.created_at.isoformat(),
        "bindings": [roles.cached_scope(b) for b in of_service_account(conn, service_account_id)],
    }


def load_service_account_state(service_account_id: str) -> dict[str, Any] | None:
    """`service_account_state` on a connection of its own (the guard's cache miss)."""
    with get_engine().connect() as conn:
        return service_account_state(conn, uuid.UUID(service_account_id))
