"""Accounts, sessions and API tokens: the rules, free of HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared import etags
from shared.audit import service as audit
from shared.auth import passwords, roles, tokens
from shared.auth.ratelimit import AuthLimiter
from shared.auth.tables import api_tokens, refresh_tokens, users
from shared.db import UnitOfWork
from shared.errors import Conflict, FieldError, Forbidden, Invalid, NotFound, Unauthorized
from shared.pagination import Id, Timestamp, decode_cursor, page
from shared.settings import Settings

USERS_NAMESPACE = "users"
API_TOKENS_NAMESPACE = "api_tokens"
SESSION = "session"  # the credential of an interactive login (a JWT from /auth/login or /auth/refresh)
_BAD_LOGIN = "The email or password is wrong."

_user_columns = [users.c.id, users.c.email, users.c.display_name, users.c.role, users.c.is_active, users.c.created_at]


def public_user(row: Any) -> dict[str, Any]:
    """A user as the API shows it (never the hash)."""
    return {
        "id": row.id,
        "email": row.email,
        "display_name": row.display_name,
        "role": row.role,
        "is_active": row.is_active,
        "created_at": row.created_at,
    }


def _forget_users(work: UnitOfWork) -> None:
    work.after_commit(lambda: work.cache.invalidate(USERS_NAMESPACE))


# -- accounts -----------------------------------------------------------------------------------


def register(
    work: UnitOfWork,
    *,
    email: str,
    password: str,
    display_name: str,
    role: str = "viewer",
    actor: str | None = None,
    limiter: AuthLimiter | None = None,
    client: str = "unknown",
) -> dict[str, Any]:
    """Create an account; 409 `email_taken` when the address (in any case) is in use.

    With a `limiter` (self-registration over HTTP) each attempt from `client` is counted first.
    """
    if limiter is not None:
        limiter.reserve_registration(client=client)
    email = email.strip().lower()
    if password.strip().lower() == email:
        raise Invalid("The password may not be the email.", errors=[FieldError("password", "must not be the email")])
    user_id = uuid.uuid4()
    row = work.conn.execute(
        pg_insert(users)
        .values(
            id=user_id,
            email=email,
            display_name=display_name.strip(),
            password_hash=passwords.hash_password(password),
            role=role,
            created_at=work.now,
            updated_at=work.now,
        )
        .on_conflict_do_nothing(index_elements=["email"])
        .returning(*_user_columns)
    ).first()
    if row is None:
        raise Conflict("An account with this email exists.", code="email_taken")
    audit.record(
        work.conn,
        actor=actor or str(user_id),
        action="user.registered",
        entity_type="user",
        entity_id=user_id,
        data={"email": email, "role": role},
        now=work.now,
    )
    return public_user(row)


def get_user(work: UnitOfWork, *, user_id: object) -> dict[str, Any]:
    row = work.conn.execute(sa.select(*_user_columns).where(users.c.id == user_id)).first()
    if row is None:
        raise NotFound("No such user.", code="user_not_found")
    return public_user(row)


def whoami(work: UnitOfWork, *, user_id: object, token: dict[str, Any] | None) -> dict[str, Any]:
    """The caller's account, and `token`: what the credential itself may do (null for a login session)."""
    return get_user(work, user_id=user_id) | {"token": token}


def list_users(work: UnitOfWork, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Users, oldest first, a page at a time."""
    query = sa.select(*_user_columns).order_by(users.c.created_at, users.c.id).limit(limit + 1)
    if cursor:
        query = query.where(sa.tuple_(users.c.created_at, users.c.id) > decode_cursor(cursor, (Timestamp, Id)))
    rows = [public_user(r) for r in work.conn.execute(query)]
    return page(rows, limit, lambda u: [u["created_at"].isoformat(), str(u["id"])])


def update_user(
    work: UnitOfWork,
    *,
    user_id: object,
    actor: str,
    role: str | None = None,
    is_active: bool | None = None,
    if_match: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Change role and/or active flag; the last active admin can be neither demoted nor deactivated."""
    # Lock every active admin: two admins demoting each other at once can't both pass the check.
    admins = set(
        work.conn.scalars(
            sa.select(users.c.id)
            .where(users.c.role == "admin", users.c.is_active)
            .order_by(users.c.id)
            .with_for_update()
        )
    )
    current = work.conn.execute(sa.select(users).where(users.c.id == user_id).with_for_update()).first()
    if current is None:
        raise NotFound("No such user.", code="user_not_found")
    if if_match is not None:
        etags.check(public_user(current), if_match)
    new_role = role if role is not None else current.role
    new_active = is_active if is_active is not None else current.is_active
    loses_admin = current.id in admins and (new_role != "admin" or not new_active)
    if loses_admin and len(admins) == 1:
        raise Conflict("This is the last active admin; promote another admin first.", code="last_admin")
    changes: dict[str, Any] = {}
    if new_role != current.role:
        changes["role"] = new_role
    if new_active != current.is_active:
        changes["is_active"] = new_active
    if not changes:
        return public_user(current)
    values: dict[str, Any] = {**changes, "updated_at": work.now}
    if not new_active:
        values["auth_version"] = users.c.auth_version + 1
        _revoke_families(work, user_id=current.id)
    row = work.conn.execute(
        sa.update(users).where(users.c.id == current.id).values(**values).returning(*_user_columns)
    ).one()
    before = {k: getattr(current, k) for k in changes}
    for field, value in changes.items():
        action = "user.role_changed" if field == "role" else ("user.activated" if value else "user.deactivated")
        audit.record(
            work.conn,
            actor=actor,
            action=action,
            entity_type="user",
            entity_id=current.id,
            data={"from": before[field], "to": value},
            now=work.now,
        )
    _forget_users(work)
    return public_user(row)


def change_password(
    work: UnitOfWork,
    *,
    user_id: object,
    current_password: str,
    new_password: str,
    limiter: AuthLimiter,
    client: str,
) -> None:
    """Replace the password after checking the current one; every session and API token of the user ends.

    API tokens end too: anyone who had the old password could have made one, and a password change
    must lock them out (README, "Password change").
    """
    limiter.reserve_password_change(user_id=str(user_id), client=client)
    row = work.conn.execute(sa.select(users).where(users.c.id == user_id).with_for_update()).first()
    if row is None:
        raise NotFound("No such user.", code="user_not_found")
    ok, _ = passwords.verify(current_password, row.password_hash)
    if not ok:
        raise Forbidden("The current password is wrong.", code="wrong_password")
    if new_password.strip().lower() == row.email:
        raise Invalid(
            "The password may not be the email.", errors=[FieldError("new_password", "must not be the email")]
        )
    work.conn.execute(
        sa.update(users)
        .where(users.c.id == row.id)
        .values(
            password_hash=passwords.hash_password(new_password),
            auth_version=users.c.auth_version + 1,
            updated_at=work.now,
        )
    )
    _revoke_families(work, user_id=row.id)
    revoked = work.conn.execute(
        sa.update(api_tokens)
        .where(api_tokens.c.user_id == row.id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=work.now)
        .returning(api_tokens.c.id)
    ).all()
    audit.record(
        work.conn,
        actor=str(row.id),
        action="user.password_changed",
        entity_type="user",
        entity_id=row.id,
        data={"api_tokens_revoked": len(revoked)},
        now=work.now,
    )
    _forget_users(work)
    work.after_commit(lambda: work.cache.invalidate(API_TOKENS_NAMESPACE))


# -- sessions -----------------------------------------------------------------------------------


def login(
    work: UnitOfWork, *, settings: Settings, limiter: AuthLimiter, email: str, password: str, client: str
) -> dict[str, Any]:
    """Check credentials and open a session (a new refresh family). Failures are audited and counted.

    The attempt is counted before the password is checked, so racing attempts cannot overrun the limit.
    """
    email = email.strip().lower()
    limiter.reserve_login(email=email, client=client)
    row = work.conn.execute(sa.select(users).where(users.c.email == email)).first()
    ok, new_hash = passwords.verify(password, row.password_hash if row is not None else None)
    if row is None or not ok or not row.is_active:
        audit.record(
            work.conn,
            actor="anonymous",
            action="auth.login_failed",
            entity_type="user",
            entity_id=row.id if row is not None else email,
            data={"email": email, "client": client},
            now=work.now,
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


def refresh(work: UnitOfWork, *, settings: Settings, refresh_token: str) -> dict[str, Any]:
    """Swap a refresh token for a new pair. A spent token presented again revokes its family."""
    token_hash = tokens.digest(refresh_token)
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
            _revoke_families(work, family_id=known.family_id)
            audit.record(
                work.conn,
                actor=str(known.user_id),
                action="auth.refresh_token_reused",
                entity_type="session",
                entity_id=known.family_id,
                now=work.now,
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


def logout(work: UnitOfWork, *, refresh_token: str) -> None:
    """End the session (family) the refresh token belongs to."""
    known = work.conn.execute(
        sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == tokens.digest(refresh_token))
    ).first()
    if known is None:
        raise Unauthorized("The refresh token is not valid.", code="invalid_refresh_token")
    _revoke_families(work, family_id=known.family_id)
    audit.record(
        work.conn,
        actor=str(known.user_id),
        action="auth.logout",
        entity_type="session",
        entity_id=known.family_id,
        now=work.now,
    )


def _revoke_families(work: UnitOfWork, *, user_id: object = None, family_id: object = None) -> None:
    where = refresh_tokens.c.user_id == user_id if user_id is not None else refresh_tokens.c.family_id == family_id
    work.conn.execute(
        sa.update(refresh_tokens).where(where, refresh_tokens.c.revoked_at.is_(None)).values(revoked_at=work.now)
    )


# -- API tokens ---------------------------------------------------------------------------------


def public_token(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "prefix": tokens.API_TOKEN_PREFIX + row.prefix,
        "user_id": row.user_id,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "last_used_at": row.last_used_at,
        "revoked_at": row.revoked_at,
    }


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

    Only a person's login session (`credential == "session"`) may make one: a token minted by a
    token could outlive and outrank its parent and survive the parent's revocation.
    """
    if credential != SESSION:
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
        work.conn,
        actor=str(owner_id),
        action="api_token.created",
        entity_type="api_token",
        entity_id=row.id,
        data={"name": row.name, "role": role, "prefix": tokens.API_TOKEN_PREFIX + parts.prefix},
        now=work.now,
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
        work.conn,
        actor=str(viewer_id),
        action="api_token.revoked",
        entity_type="api_token",
        entity_id=row.id,
        now=work.now,
    )
    work.after_commit(lambda: work.cache.invalidate(API_TOKENS_NAMESPACE))
