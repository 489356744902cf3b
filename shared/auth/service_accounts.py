"""Service accounts: non-human principals (pipelines) that trust OIDC tokens; the exchange of such a
token for an access token is `shared.auth.exchange`.

Policy (docs/keyless.md, "Keyless sign-in"):
- Admins (organisation-wide) manage service accounts. A trust entry is checked when saved
  (`trust_entry_refusal`): an https issuer (loopback http only with OIDC_ALLOW_INSECURE_ISSUERS),
  a non-empty exact subject and audience, no reserved claim pinned.
- A service account holds an organisation-wide `viewer` role (like every new user account) plus
  whatever its bindings give; its org-wide role is the highest of that and its unscoped bindings.
- Deactivating it, or changing its trust, bumps its `auth_version`: every access token issued
  before stops at once. Deleting it deletes its bindings in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from shared import etags
from shared.audit import service as audit
from shared.auth import roles
from shared.auth.bindings import of_service_account, public_binding
from shared.auth.principal import Principal
from shared.auth.schemas import ServiceAccountIn, ServiceAccountPatch, TrustEntryIn
from shared.auth.tables import bindings, service_accounts
from shared.errors import Conflict, FieldError, Invalid, NotFound
from shared.identity.trust import trust_entry_refusal
from shared.pagination import Keyset, PageQuery, keyset_page
from shared.platform.db import insert_new
from shared.platform.namespaces import USERS_NAMESPACE
from shared.platform.settings import Settings
from shared.platform.work import UnitOfWork

_BY_NAME = Keyset((service_accounts.c.name,), (str,))


def public_service_account(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "display_name": row.display_name,
        "trust": [dict(entry) for entry in row.trust],
        "is_active": row.is_active,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _checked_trust(trust: list[TrustEntryIn], *, settings: Settings) -> list[dict[str, Any]]:
    """The trust entries as stored, or 422 `invalid_trust_entry` naming each refused one."""
    errors = []
    for i, entry in enumerate(trust):
        refusal = trust_entry_refusal(
            issuer=entry.issuer,
            subject=entry.subject,
            audience=entry.audience,
            claims=entry.claims or {},
            allow_insecure=settings.oidc_allow_insecure_issuers,
        )
        if refusal is not None:
            errors.append(FieldError(f"trust[{i}]", refusal))
    if errors:
        raise Invalid("A trust entry is not admitted.", code="invalid_trust_entry", errors=errors)
    return [{"issuer": e.issuer, "subject": e.subject, "audience": e.audience, "claims": e.claims or {}} for e in trust]


def _row(conn: sa.Connection, service_account_id: uuid.UUID, *, lock: bool = False) -> Any:
    query = sa.select(service_accounts).where(service_accounts.c.id == service_account_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound("No such service account.", code="service_account_not_found")
    return row


def create_service_account(
    work: UnitOfWork, body: ServiceAccountIn, caller: Principal, *, settings: Settings
) -> dict[str, Any]:
    """A new service account (organisation-wide admins); 409 `service_account_exists` on a taken name."""
    roles.require(caller.grants, "admin")
    name = body.name
    stored = _checked_trust(body.trust, settings=settings)
    values = {
        "id": uuid.uuid4(),
        "name": name,
        "display_name": body.display_name.strip(),
        "trust": stored,
        "created_by": caller.user_id,
        "created_at": work.now,
        "updated_at": work.now,
    }
    row = insert_new(
        work.conn,
        service_accounts,
        values,
        key="name",
        taken=lambda: Conflict(f"A service account named {name!r} exists already.", code="service_account_exists"),
    )
    audit.record(
        work,
        actor=caller.actor,
        action="service_account.created",
        entity_type="service_account",
        entity_id=row.id,
        data={"name": name, "trust": stored},
    )
    return public_service_account(row)


def list_service_accounts(
    work: UnitOfWork, query: PageQuery, caller: Principal
) -> tuple[list[dict[str, Any]], str | None]:
    """Service accounts by name, a page at a time."""
    roles.require(caller.grants, "admin")
    select = sa.select(service_accounts)
    rows, next_cursor = keyset_page(work.conn, select, _BY_NAME, limit=query.limit, cursor=query.cursor)
    return [public_service_account(r) for r in rows], next_cursor


def get_service_account(work: UnitOfWork, service_account_id: uuid.UUID, caller: Principal) -> dict[str, Any]:
    roles.require(caller.grants, "admin")
    return public_service_account(_row(work.conn, service_account_id))


def update_service_account(
    work: UnitOfWork,
    service_account_id: uuid.UUID,
    patch: ServiceAccountPatch,
    caller: Principal,
    *,
    settings: Settings,
    if_match: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Change what the PATCH sent of the display name, trust and active flag (a null changes
    nothing). A new trust or a deactivation ends every access token issued before, at once."""
    roles.require(caller.grants, "admin")
    current = _row(work.conn, service_account_id, lock=True)
    etags.check(public_service_account(current), if_match)
    changes = _changes(current, patch, settings=settings)
    if not changes:
        return public_service_account(current)
    values: dict[str, Any] = {**changes, "updated_at": work.now}
    if "trust" in changes or changes.get("is_active") is False:
        values["auth_version"] = service_accounts.c.auth_version + 1
    row = work.conn.execute(
        sa.update(service_accounts)
        .where(service_accounts.c.id == current.id)
        .values(**values)
        .returning(service_accounts)
    ).one()
    audit.record(
        work,
        actor=caller.actor,
        action="service_account.updated",
        entity_type="service_account",
        entity_id=current.id,
        data={"name": current.name, "changes": changes},
    )
    work.invalidate(USERS_NAMESPACE)
    return public_service_account(row)


def _changes(current: Any, patch: ServiceAccountPatch, *, settings: Settings) -> dict[str, Any]:
    """What the PATCH changes: each field it sent with a value that differs from the stored one."""
    sent = {name: getattr(patch, name) for name in patch.model_fields_set if getattr(patch, name) is not None}
    changes: dict[str, Any] = {}
    if "display_name" in sent and sent["display_name"].strip() != current.display_name:
        changes["display_name"] = sent["display_name"].strip()
    if "trust" in sent:
        stored = _checked_trust(sent["trust"], settings=settings)
        if stored != list(current.trust):
            changes["trust"] = stored
    if "is_active" in sent and sent["is_active"] != current.is_active:
        changes["is_active"] = sent["is_active"]
    return changes


def delete_service_account(work: UnitOfWork, service_account_id: uuid.UUID, caller: Principal) -> None:
    """Delete a service account and its role bindings; its access tokens stop at once."""
    roles.require(caller.grants, "admin")
    current = _row(work.conn, service_account_id, lock=True)
    removed = work.conn.execute(
        sa.delete(bindings)
        .where(bindings.c.subject_type == roles.SERVICE_ACCOUNT, bindings.c.subject_id == current.id)
        .returning(bindings.c.id)
    ).all()
    work.conn.execute(sa.delete(service_accounts).where(service_accounts.c.id == current.id))
    audit.record(
        work,
        actor=caller.actor,
        action="service_account.deleted",
        entity_type="service_account",
        entity_id=current.id,
        data={"name": current.name, "bindings_deleted": [str(r.id) for r in removed]},
    )
    work.invalidate(USERS_NAMESPACE)


# -- who a service account is ----------------------------------------------------------------------------


def whoami(work: UnitOfWork, caller: Principal) -> dict[str, Any]:
    """`/auth/me` for a service account: itself, what its token may do, and its bindings."""
    row = _row(work.conn, caller.user_id)
    return {
        "id": row.id,
        "email": f"{row.name}@{roles.SERVICE_ACCOUNT_DOMAIN}",
        "display_name": row.display_name,
        "role": caller.role,
        "is_active": row.is_active,
        "created_at": row.created_at,
        "token": caller.token,
        "teams": [],
        "bindings": [public_binding(b) | {"team": None} for b in of_service_account(work.conn, row.id)],
        "service_account": {"id": row.id, "name": row.name},
    }
