"""Sessions: a login opens one (a refresh-token family), a refresh continues it, a logout ends it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from shared.audit import service as audit
from shared.auth import passwords, tokens
from shared.auth.ratelimit import AuthLimiter
from shared.auth.schemas import LoginIn, RefreshIn
from shared.auth.tables import refresh_tokens, users
from shared.errors import Unauthorized
from shared.platform.settings import Settings
from shared.platform.work import UnitOfWork

_BAD_LOGIN = "The email or password is wrong."


def login(work: UnitOfWork, body: LoginIn, *, settings: Settings, limiter: AuthLimiter, client: str) -> dict[str, Any]:
    """Check credentials and open a session (a new refresh family). Failures are audited and counted.

    The attempt is counted before the password is checked, so racing attempts cannot overrun the limit.
    """
    email, password = body.email.strip().lower(), body.password
    limiter.reserve_login(email=email, client=client)
    row = work.conn.execute(sa.select(users).where(users.c.email == email)).first()
    ok, new_hash = passwords.verify(password, row.password_hash if row is not None else None)
    if row is None or not ok or not row.is_active:
        audit.record(
            work,
            actor="anonymous",
            action="auth.login_failed",
            entity_type="user",
            entity_id=row.id if row is not None else email,
            data={"email": email, "client": client},
        )
        work.commit()  # the failure is kept although the request fails
        raise Unauthorized(_BAD_LOGIN, code="invalid_credentials")
    limiter.login_succeeded(email=email, client=client)
    if new_hash is not None:
        work.conn.execute(sa.update(users).where(users.c.id == row.id).values(password_hash=new_hash))
    return _issue_pair(work, settings=settings, user=row, family_id=uuid.uuid4())


def _issue_pair(work: UnitOfWork, *, settings: Settings, user: Any, family_id: uuid.UUID) -> dict[str, Any]:
    refresh = tokens.new_refresh_token()
    work.conn.execute(
        sa.insert(refresh_tokens).values(
            id=uuid.uuid4(),
            user_id=user.id,
            family_id=family_id,
            token_hash=tokens.digest(refresh),
            issued_at=work.now,
            expires_at=work.now + timedelta(days=settings.refresh_token_days),
        )
    )
    access, expires_in = tokens.issue_access_token(
        settings, user_id=user.id, role=user.role, auth_version=user.auth_version, now=work.now
    )
    return {"access_token": access, "refresh_token": refresh, "token_type": "bearer", "expires_in": expires_in}


def refresh(work: UnitOfWork, body: RefreshIn, *, settings: Settings) -> dict[str, Any]:
    """Swap a refresh token for a new pair. A spent token presented again revokes its family."""
    token_hash = tokens.digest(body.refresh_token)
    # The swap is one UPDATE: of two racing refreshes only one finds `used_at IS NULL`.
    spent = work.conn.execute(
        sa.update(refresh_tokens)
        .where(
            refresh_tokens.c.token_hash == token_hash,
            refresh_tokens.c.used_at.is_(None),
            refresh_tokens.c.revoked_at.is_(None),
            refresh_tokens.c.expires_at > work.now,
        )
        .values(used_at=work.now)
        .returning(refresh_tokens.c.user_id, refresh_tokens.c.family_id)
    ).first()
    if spent is None:
        known = work.conn.execute(sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)).first()
        if known is not None and known.used_at is not None and known.revoked_at is None:
            end_sessions(work, family_id=known.family_id)
            audit.record(
                work,
                actor=str(known.user_id),
                action="auth.refresh_token_reused",
                entity_type="session",
                entity_id=known.family_id,
            )
            work.commit()
            raise Unauthorized(
                "This refresh token was already used; the session is revoked.", code="refresh_token_reused"
            )
        raise Unauthorized("The refresh token is not valid.", code="invalid_refresh_token")
    user = work.conn.execute(sa.select(users).where(users.c.id == spent.user_id)).one()
    if not user.is_active:
        raise Unauthorized("The account is deactivated.", code="account_inactive")
    return _issue_pair(work, settings=settings, user=user, family_id=spent.family_id)


def logout(work: UnitOfWork, body: RefreshIn) -> None:
    """End the session (family) the refresh token belongs to."""
    known = work.conn.execute(
        sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == tokens.digest(body.refresh_token))
    ).first()
    if known is None:
        raise Unauthorized("The refresh token is not valid.", code="invalid_refresh_token")
    end_sessions(work, family_id=known.family_id)
    audit.record(
        work,
        actor=str(known.user_id),
        action="auth.logout",
        entity_type="session",
        entity_id=known.family_id,
    )


def end_sessions(work: UnitOfWork, *, user_id: object = None, family_id: object = None) -> None:
    """Revoke every session (refresh family) of a user, or one family."""
    where = refresh_tokens.c.user_id == user_id if user_id is not None else refresh_tokens.c.family_id == family_id
    work.conn.execute(
        sa.update(refresh_tokens).where(where, refresh_tokens.c.revoked_at.is_(None)).values(revoked_at=work.now)
    )
