"""Accounts: registration, reading and listing users, role and active changes, password changes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shared import etags
from shared.audit import service as audit
from shared.auth import passwords, roles, service_accounts
from shared.auth.bindings import effective_bindings
from shared.auth.principal import Principal
from shared.auth.ratelimit import AuthLimiter
from shared.auth.schemas import ChangePasswordIn, RegisterIn, UserOut, UserPatch
from shared.auth.sessions import end_sessions
from shared.auth.tables import api_tokens, users
from shared.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from shared.models import Shape
from shared.pagination import Id, Keyset, PageQuery, Timestamp, keyset_page
from shared.platform.db import insert_new
from shared.platform.namespaces import API_TOKENS_NAMESPACE, USERS_NAMESPACE
from shared.platform.work import UnitOfWork

# A user as the API shows it (never the hash).
public_user = Shape(UserOut)
_user_columns = [users.c[name] for name in UserOut.model_fields]
_OLDEST_FIRST = Keyset((users.c.created_at, users.c.id), (Timestamp, Id))


@dataclass(frozen=True)
class NewAccount:
    """An account to create. `password` None (with `iap_subject`): an account Identity-Aware Proxy
    created, which signs in through IAP only; `created_by`: who the audit log names (None: the
    account itself, as for a self-registration; else a system, such as `system:manage`)."""

    email: str
    password: str | None
    display_name: str
    role: str = "viewer"
    iap_subject: str | None = None
    created_by: str | None = None


def register(work: UnitOfWork, body: RegisterIn, *, limiter: AuthLimiter, client: str) -> dict[str, Any]:
    """Self-registration over HTTP: each attempt from `client` is counted first."""
    limiter.reserve_registration(client=client)
    return create_account(work, NewAccount(email=body.email, password=body.password, display_name=body.display_name))


def create_account(work: UnitOfWork, account: NewAccount) -> dict[str, Any]:
    """Create an account; 409 `email_taken` when the address (in any case) is in use."""
    password, role = account.password, account.role
    email = account.email.strip().lower()
    if password is not None and password.strip().lower() == email:
        raise Invalid("The password may not be the email.", errors=[FieldError("password", "must not be the email")])
    user_id = uuid.uuid4()
    values = {
        "id": user_id,
        "email": email,
        "display_name": account.display_name.strip(),
        "password_hash": passwords.hash_password(password) if password is not None else None,
        "iap_subject": account.iap_subject,
        "role": role,
        "created_at": work.now,
        "updated_at": work.now,
    }
    row = insert_new(
        work.conn,
        users,
        values,
        key="email",
        returning=_user_columns,
        taken=lambda: Conflict("An account with this email exists.", code="email_taken"),
    )
    audit.record(
        work,
        actor=account.created_by or str(user_id),
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


def whoami(work: UnitOfWork, caller: Principal) -> dict[str, Any]:
    """The caller's account, `token`: what the credential itself may do (null for a login session), their
    teams and their effective bindings (each capped at the token's role); a service account's own."""
    if caller.credential == roles.SERVICE_ACCOUNT:
        return service_accounts.whoami(work, caller)
    token = caller.token
    cap = token["role"] if token is not None else None
    found = effective_bindings(work.conn, user_id=caller.user_id, cap=cap)
    return get_user(work, user_id=caller.user_id) | {"token": token, "teams": list(caller.teams), "bindings": found}


def list_users(work: UnitOfWork, query: PageQuery, caller: Principal) -> tuple[list[dict[str, Any]], str | None]:
    """Users, oldest first, a page at a time: for organisation-wide admins."""
    roles.require(caller.grants, "admin")
    rows, next_cursor = keyset_page(
        work.conn, sa.select(*_user_columns), _OLDEST_FIRST, limit=query.limit, cursor=query.cursor
    )
    return [public_user(r) for r in rows], next_cursor


def update_user(
    work: UnitOfWork,
    user_id: uuid.UUID,
    patch: UserPatch,
    caller: Principal,
    *,
    if_match: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Change what the PATCH sent of the role, active flag and IAP link (a null changes nothing), for
    organisation-wide admins; the last active admin can be neither demoted nor deactivated."""
    roles.require(caller.grants, "admin")
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
    changes = user_changes(current, patch)
    if current.id in admins and len(admins) == 1 and loses_admin(changes):
        raise Conflict("This is the last active admin; promote another admin first.", code="last_admin")
    if not changes:
        return public_user(current)
    values: dict[str, Any] = {k: v for k, v in changes.items() if k != "iap_link"} | {"updated_at": work.now}
    if "iap_link" in changes:
        # Linking again drops the identity attached before: the next assertion for this email is the one.
        values |= {"iap_link_pending": changes["iap_link"], "iap_subject": None}
    if not changes.get("is_active", current.is_active):
        values["auth_version"] = users.c.auth_version + 1
        end_sessions(work, user_id=current.id)
    row = work.conn.execute(
        sa.update(users).where(users.c.id == current.id).values(**values).returning(*_user_columns)
    ).one()
    before = {k: getattr(current, k) for k in changes if k != "iap_link"} | {"iap_link": current.iap_subject}
    for field, value in changes.items():
        audit.record(
            work,
            actor=caller.actor,
            action=change_action(field, value),
            entity_type="user",
            entity_id=current.id,
            data={"from": before[field], "to": value},
        )
    work.invalidate(USERS_NAMESPACE)
    return public_user(row)


def user_changes(current: Any, patch: UserPatch) -> dict[str, Any]:
    """What the PATCH changes of the account `current`: each field sent with a value that differs."""
    sent = {name: getattr(patch, name) for name in patch.model_fields_set if getattr(patch, name) is not None}
    changes: dict[str, Any] = {
        k: sent[k] for k in ("role", "is_active") if k in sent and sent[k] != getattr(current, k)
    }
    link = sent.get("iap_link")
    if link is not None and (link != current.iap_link_pending or current.iap_subject is not None):
        changes["iap_link"] = link
    return changes


def loses_admin(changes: dict[str, Any]) -> bool:
    """Whether an active admin changed so stops being one."""
    return changes.get("role", "admin") != "admin" or changes.get("is_active", True) is False


def change_action(field: str, value: Any) -> str:
    """The audit action of one changed field of an account."""
    if field == "iap_link":
        return "user.iap_link_set" if value else "user.iap_link_removed"
    if field == "role":
        return "user.role_changed"
    return "user.activated" if value else "user.deactivated"


def change_password(
    work: UnitOfWork, body: ChangePasswordIn, caller: Principal, *, limiter: AuthLimiter, client: str
) -> None:
    """Replace the password after checking the current one; every session and API token of the user ends.

    API tokens end too: anyone who had the old password could have made one, and a password change
    must lock them out (docs/security.md, "Password change").
    """
    current_password, new_password = body.current_password, body.new_password
    limiter.reserve_password_change(user_id=str(caller.user_id), client=client)
    row = work.conn.execute(sa.select(users).where(users.c.id == caller.user_id).with_for_update()).first()
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
