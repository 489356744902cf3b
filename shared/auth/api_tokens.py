"""API tokens for pipelines: made from a login session, listed without secrets, revoked."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from shared.audit import service as audit
from shared.auth import roles, tokens
from shared.auth.schemas import ApiTokenOut
from shared.auth.tables import api_tokens
from shared.errors import Forbidden, NotFound
from shared.models import Shape
from shared.pagination import Id, Timestamp, decode_cursor, page
from shared.platform.db import UnitOfWork
from shared.platform.namespaces import API_TOKENS_NAMESPACE

_token_fields = Shape(ApiTokenOut, given=("prefix",))


def public_token(row: Any) -> dict[str, Any]:
    """An API token as the API shows it (never the hash); its prefix with the `rm_` marker."""
    return _token_fields(row, prefix=tokens.API_TOKEN_PREFIX + row.prefix)


def create_api_token(
    work: UnitOfWork,
    *,
    owner_id: object,
    owner_role: str,
    credential: str,
    name: str,
    role: str,
    expires_in_days: int,
) -> dict[str, Any]:
    """A new token, shown once; its role may not exceed the owner's.

    Only a person's login session (`credential == tokens.SESSION`) may make one: a token minted by a
    token could outlive and outrank its parent and survive the parent's revocation.
    """
    if credential != tokens.SESSION:
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
            name=name.strip(),
            role=role,
            prefix=parts.prefix,
            token_hash=tokens.digest(parts.secret),
            created_at=work.now,
            expires_at=work.now + timedelta(days=expires_in_days),
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


def list_api_tokens(
    work: UnitOfWork, *, viewer_id: object, is_admin: bool, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The caller's tokens (an admin sees everyone's), newest first, without secrets."""
    query = sa.select(api_tokens).order_by(api_tokens.c.created_at.desc(), api_tokens.c.id.desc()).limit(limit + 1)
    if not is_admin:
        query = query.where(api_tokens.c.user_id == viewer_id)
    if cursor:
        query = query.where(
            sa.tuple_(api_tokens.c.created_at, api_tokens.c.id) < decode_cursor(cursor, (Timestamp, Id))
        )
    rows = [public_token(r) for r in work.conn.execute(query)]
    return page(rows, limit, lambda t: [t["created_at"].isoformat(), str(t["id"])])


def revoke_api_token(work: UnitOfWork, *, token_id: object, viewer_id: object, is_admin: bool) -> None:
    """Revoke at once; someone else's token is simply not found."""
    query = sa.update(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
    if not is_admin:
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
