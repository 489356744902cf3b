"""API tokens for pipelines: made from a login session, listed without secrets, revoked."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from shared.audit import service as audit
from shared.auth import roles, tokens
from shared.auth.principal import Principal
from shared.auth.schemas import ApiTokenOut, TokenIn
from shared.auth.tables import api_tokens
from shared.errors import Forbidden, NotFound
from shared.models import Shape
from shared.pagination import Id, Keyset, PageQuery, Timestamp, keyset_page
from shared.platform.clock import utcnow
from shared.platform.db import get_engine
from shared.platform.namespaces import API_TOKENS_NAMESPACE
from shared.platform.work import UnitOfWork

_token_fields = Shape(ApiTokenOut, given=("prefix",))
_NEWEST_FIRST = Keyset((api_tokens.c.created_at, api_tokens.c.id), (Timestamp, Id), descending=True)


def public_token(row: Any) -> dict[str, Any]:
    """An API token as the API shows it (never the hash); its prefix with the `rm_` marker."""
    return _token_fields(row, prefix=tokens.API_TOKEN_PREFIX + row.prefix)


def create_api_token(work: UnitOfWork, body: TokenIn, caller: Principal) -> dict[str, Any]:
    """A new token, shown once; its role may not exceed the owner's.

    Only a person's login session (`credential == tokens.SESSION`) may make one: a token minted by a
    token could outlive and outrank its parent and survive the parent's revocation.
    """
    owner_id, owner_role, role = caller.user_id, caller.top_role, body.role
    if caller.credential != tokens.SESSION:
        raise Forbidden(
            "API tokens are made from a login session, not with another token; log in and try again.",
            code="interactive_login_required",
        )
    if not roles.at_least(owner_role, role):
        raise Forbidden(f"A {owner_role} cannot make a {role} token.", code="role_too_high")
    secret, parts = tokens.new_api_token()
    row = work.conn.execute(
        sa.insert(api_tokens)
        .values(
            id=uuid.uuid4(),
            user_id=owner_id,
            name=body.name.strip(),
            role=role,
            prefix=parts.prefix,
            token_hash=tokens.digest(parts.secret),
            created_at=work.now,
            expires_at=work.now + timedelta(days=body.expires_in_days),
        )
        .returning(api_tokens)
    ).one()
    audit.record(
        work,
        actor=str(owner_id),
        action="api_token.created",
        entity_type="api_token",
        entity_id=row.id,
        data={"name": row.name, "role": role, "prefix": tokens.API_TOKEN_PREFIX + parts.prefix},
    )
    return public_token(row) | {"token": secret}


def list_api_tokens(work: UnitOfWork, query: PageQuery, caller: Principal) -> tuple[list[dict[str, Any]], str | None]:
    """The caller's tokens (an admin sees everyone's), newest first, without secrets."""
    select = sa.select(api_tokens)
    if not caller.is_admin:
        select = select.where(api_tokens.c.user_id == caller.user_id)
    rows, next_cursor = keyset_page(work.conn, select, _NEWEST_FIRST, limit=query.limit, cursor=query.cursor)
    return [public_token(r) for r in rows], next_cursor


def revoke_api_token(work: UnitOfWork, token_id: uuid.UUID, caller: Principal) -> None:
    """Revoke at once; someone else's token is simply not found."""
    viewer_id = caller.user_id
    query = sa.update(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
    if not caller.is_admin:
        query = query.where(api_tokens.c.user_id == viewer_id)
    row = work.conn.execute(query.values(revoked_at=work.now).returning(api_tokens.c.id, api_tokens.c.prefix)).first()
    if row is None:
        raise NotFound("No such active token.", code="token_not_found")
    audit.record(
        work,
        actor=str(viewer_id),
        action="api_token.revoked",
        entity_type="api_token",
        entity_id=row.id,
    )
    work.invalidate(API_TOKENS_NAMESPACE)


# -- when a token was last used -----------------------------------------------------------------------

LAST_USED_EVERY_S = 300.0


class _LastUsed:
    """Writes `last_used_at` at most every few minutes per token per instance."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def touch(self, token_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._seen.get(token_id, -LAST_USED_EVERY_S) < LAST_USED_EVERY_S:
                return
            self._seen[token_id] = now
        with get_engine().begin() as conn:
            conn.execute(
                sa.update(api_tokens).where(api_tokens.c.id == uuid.UUID(token_id)).values(last_used_at=utcnow())
            )


@functools.cache
def _last_used() -> _LastUsed:
    return _LastUsed()


def touch_last_used(token_id: str) -> None:
    """Note that the token was used now (the guard, on each request it authenticates)."""
    _last_used().touch(token_id)
