"""Accounts: registration, reading and listing users, role and active changes, password changes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared import etags
from shared.audit import service as audit
from shared.auth import passwords, roles
from shared.auth.bindings import effective_bindings
from shared.auth.ratelimit import AuthLimiter
from shared.auth.schemas import UserOut
from shared.auth.sessions import end_sessions
from shared.auth.tables import api_tokens, users
from shared.errors import Conflict, FieldError, Forbidden, Invalid, NotFound, Unauthorized
from shared.models import Shape
from shared.pagination import Id, Timestamp, decode_cursor, page
from shared.platform.db import UnitOfWork
from shared.platform.namespaces import API_TOKENS_NAMESPACE, USERS_NAMESPACE

# A user as the API shows it (never the hash).
public_user = Shape(UserOut)
_user_columns = [users.c[name] for name in UserOut.model_fields]


def register(
    work: UnitOfWork,
    *,
    email: str,
    password: str | None,
    display_name: str,
    role: str = "viewer",
    actor: str | None = None,
    limiter: AuthLimiter | None = None,
    client: str = "unknown",
    iap_subject: str | None = None,
) -> dict[str, Any]:
    """Create an account; 409 `email_taken` when the address (in any case) is in use. `password` None
    (with `iap_subject`): an account Identity-Aware Proxy created, which signs in through IAP only.

    With a `limiter` (self-registration over HTTP) each attempt from `client` is counted first.
    """
    if limiter is not None:
        limiter.reserve_registration(client=client)
    email = email.strip().lower()
    if password is not None and password.strip().lower() == email:
        raise Invalid("The password may not be the email.", errors=[FieldError("password", "must not be the email")])
    user_id = uuid.uuid4()
    row = work.conn.execute(
        pg_insert(users)
        .values(
            id=user_id,
            email=email,
            display_name=display_name.strip(),
            password_hash=passwords.hash_password(password) if password is not None else None,
            iap_subject=iap_subject,
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
        work,
        actor=actor or str(user_id),
        action="user.registered",
        entity_type="user",
        entity_id=user_id,
        data={"email": email, "role": role},
    )
    return public_user(row)


def get_user(work: UnitOfWork, *, user_id: object) -> dict[str, Any]:
    row = work.conn.execute(sa.select(*_user_columns).where(users.c.id == user_id)).first()
    if row is None:
        raise NotFound("No such user.", code="user_not_found")
    return public_user(row)


def whoami(
    work: UnitOfWork, *, user_id: uuid.UUID, token: dict[str, Any] | None, teams: Iterable[str] = ()
) -> dict[str, Any]:
    """The caller's account, `token`: what the credential itself may do (null for a login session), their
    teams and their effective bindings (each capped at the token's role)."""
    cap = token["role"] if token is not None else None
    found = effective_bindings(work.conn, user_id=user_id, cap=cap)
    return get_user(work, user_id=user_id) | {"token": token, "teams": list(teams), "bindings": found}


def list_users(
    work: UnitOfWork, *, limit: int, cursor: str | None, grants: Iterable[roles.Grant] | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Users, oldest first, a page at a time: for organisation-wide admins (`grants`: the caller's;
    None: a trusted caller, such as an operator command)."""
    if grants is not None:
        roles.require(grants, "admin")
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
    iap_link: bool | None = None,
    if_match: Callable[[str], bool] | None = None,
    grants: Iterable[roles.Grant] | None = None,
) -> dict[str, Any]:
    """Change role, active flag and/or IAP link (for organisation-wide admins; `grants` None: a trusted
    caller such as an operator command); the last active admin can be neither demoted nor deactivated."""
    if grants is not None:
        roles.require(grants, "admin")
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
    changes = user_changes(current, role=new_role, is_active=new_active, iap_link=iap_link)
    if not changes:
        return public_user(current)
    values: dict[str, Any] = {k: v for k, v in changes.items() if k != "iap_link"} | {"updated_at": work.now}
    if "iap_link" in changes:
        # Linking again drops the identity attached before: the next assertion for this email is the one.
        values |= {"iap_link_pending": iap_link, "iap_subject": None}
    if not new_active:
        values["auth_version"] = users.c.auth_version + 1
        end_sessions(work, user_id=current.id)
    row = work.conn.execute(
        sa.update(users).where(users.c.id == current.id).values(**values).returning(*_user_columns)
    ).one()
    _record_user_changes(work, actor=actor, current=current, changes=changes)
    work.invalidate(USERS_NAMESPACE)
    return public_user(row)


def user_changes(current: Any, *, role: str, is_active: bool, iap_link: bool | None) -> dict[str, Any]:
    """What a PATCH of a user changes: the role, the active flag and the IAP link that differ from
    `current` (linking again an account already attached changes it: the identity is dropped)."""
    changes: dict[str, Any] = {}
    if role != current.role:
        changes["role"] = role
    if is_active != current.is_active:
        changes["is_active"] = is_active
    if iap_link is not None and (iap_link != current.iap_link_pending or current.iap_subject is not None):
        changes["iap_link"] = iap_link
    return changes


def _user_action(field: str, value: Any) -> str:
    """The audit action of one changed field."""
    if field == "role":
        return "user.role_changed"
    if field == "is_active":
        return "user.activated" if value else "user.deactivated"
    return "user.iap_link_set" if value else "user.iap_link_removed"


def _record_user_changes(work: UnitOfWork, *, actor: str, current: Any, changes: dict[str, Any]) -> None:
    """One audit record per field changed, with its value before and after."""
    before = {k: getattr(current, k) for k in changes if k != "iap_link"} | {"iap_link": current.iap_subject}
    for field, value in changes.items():
        audit.record(
            work,
            actor=actor,
            action=_user_action(field, value),
            entity_type="user",
            entity_id=current.id,
            data={"from": before[field], "to": value},
        )


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
    must lock them out (docs/security.md, "Password change").
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
    end_sessions(work, user_id=row.id)
    revoked = work.conn.execute(
        sa.update(api_tokens)
        .where(api_tokens.c.user_id == row.id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=work.now)
        .returning(api_tokens.c.id)
    ).all()
    audit.record(
        work,
        actor=str(row.id),
        action="user.password_changed",
        entity_type="user",
        entity_id=row.id,
        data={"api_tokens_revoked": len(revoked)},
    )
    work.invalidate(USERS_NAMESPACE, API_TOKENS_NAMESPACE)


# -- people behind Identity-Aware Proxy -------------------------------------------------------------


def attach_iap_identity(work: UnitOfWork, *, email: str, subject: str, provision: bool) -> bool:
    """Attach an IAP identity seen for the first time to its account; whether there is one now.

    An email is proven before an identity attaches: IAP provisions an account of its own (no password)
    when `provision` is on, and attaches to an existing account only when an admin linked it
    (`iap_link_pending`). Anyone can register a colleague's email with a password before her first
    IAP request; that account stays theirs, never hers (401 `iap_identity_not_linked`)."""
    email = email.strip().lower()
    row = work.conn.execute(
        sa.select(users.c.id, users.c.iap_subject, users.c.iap_link_pending)
        .where(users.c.email == email)
        .with_for_update()
    ).first()
    if row is None:
        if not provision:
            return False
        try:
            with work.conn.begin_nested():
                register(
                    work,
                    email=email,
                    password=None,
                    display_name=email.split("@", 1)[0][:100] or email[:100],
                    actor="system:iap",
                    iap_subject=subject,
                )
        except Conflict:  # another request provisioned them first
            pass
        work.invalidate(USERS_NAMESPACE)
        return True
    if row.iap_subject == subject:
        return True
    if not row.iap_link_pending:
        raise Unauthorized(
            "An account with this email exists, but it is not linked to this Identity-Aware Proxy identity; "
            "an admin links it (PATCH /auth/users/{id} with iap_link: true).",
            code="iap_identity_not_linked",
        )
    work.conn.execute(
        sa.update(users)
        .where(users.c.id == row.id)
        .values(iap_subject=subject, iap_link_pending=False, updated_at=work.now)
    )
    audit.record(
        work,
        actor="system:iap",
        action="user.iap_linked",
        entity_type="user",
        entity_id=row.id,
        data={"email": email, "iap_subject": subject},
    )
    work.invalidate(USERS_NAMESPACE)
    return True
