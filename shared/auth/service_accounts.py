"""Service accounts: non-human principals (pipelines) that trust OIDC tokens; the RFC 8693 exchange
of such a token for a short-lived access token (`POST /auth/exchange`) is `shared.auth.exchange`.

Policy (docs/keyless.md, "Keyless sign-in"):
- Admins (organisation-wide) manage service accounts. A trust entry is checked when saved
  (`trust_entry_refusal`): an https issuer (loopback http only with OIDC_ALLOW_INSECURE_ISSUERS),
  a non-empty exact subject and audience, no reserved claim pinned.
- A service account holds an organisation-wide `viewer` role (like every new user account) plus
  whatever its bindings give; its org-wide role is the highest of that and its unscoped bindings.
- Deactivating it, or changing its trust, bumps its `auth_version`: every access token issued
  before stops at once. Deleting it deletes its bindings in the same transaction.
- The exchange verifies the token against every active account's trust entries. Exactly one
  account must match, or the caller names one of those that match (`service_account`, id or
  name); anything else is the same 401 `invalid_grant`, the reason in the log and audit event.
- The issued token lives `exchanged_lifetime(...)`: at most 1 h, never beyond the OIDC token's
  `exp` + 1 h. Every exchange is audited: `service_account.exchanged` or
  `service_account.exchange_refused` (committed although the request fails).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared import etags
from shared.audit import service as audit
from shared.auth import roles
from shared.auth.bindings import public_binding
from shared.auth.tables import bindings, service_accounts
from shared.errors import Conflict, FieldError, Invalid, NotFound
from shared.identity.trust import trust_entry_refusal
from shared.pagination import decode_cursor, page
from shared.platform.db import UnitOfWork
from shared.platform.namespaces import USERS_NAMESPACE
from shared.platform.settings import Settings

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

SUBJECT_TYPE = "service_account"
EMAIL_DOMAIN = "service-accounts"  # what `/auth/me` shows as a service account's "email": NAME@service-accounts
BASELINE_ROLE = "viewer"


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


def _checked_trust(trust: list[dict[str, Any]], *, settings: Settings) -> list[dict[str, Any]]:
    """The trust entries as stored, or 422 `invalid_trust_entry` naming each refused one."""
    errors = []
    for i, entry in enumerate(trust):
        refusal = trust_entry_refusal(
            issuer=entry["issuer"],
            subject=entry["subject"],
            audience=entry["audience"],
            claims=entry.get("claims") or {},
            allow_insecure=settings.oidc_allow_insecure_issuers,
        )
        if refusal is not None:
            errors.append(FieldError(f"trust[{i}]", refusal))
    if errors:
        raise Invalid("A trust entry is not admitted.", code="invalid_trust_entry", errors=errors)
    return [
        {"issuer": e["issuer"], "subject": e["subject"], "audience": e["audience"], "claims": e.get("claims") or {}}
        for e in trust
    ]


def _row(conn: sa.Connection, service_account_id: uuid.UUID, *, lock: bool = False) -> Any:
    query = sa.select(service_accounts).where(service_accounts.c.id == service_account_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound("No such service account.", code="service_account_not_found")
    return row


def create_service_account(
    work: UnitOfWork,
    *,
    grants: Iterable[roles.Grant],
    actor: str,
    settings: Settings,
    name: str,
    display_name: str,
    trust: list[dict[str, Any]],
) -> dict[str, Any]:
    """A new service account (organisation-wide admins); 409 `service_account_exists` on a taken name."""
    roles.require(grants, "admin")
    stored = _checked_trust(trust, settings=settings)
    row = work.conn.execute(
        pg_insert(service_accounts)
        .values(
            id=uuid.uuid4(),
            name=name,
            display_name=display_name.strip(),
            trust=stored,
            created_by=uuid.UUID(actor),
            created_at=work.now,
            updated_at=work.now,
        )
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(service_accounts)
    ).first()
    if row is None:
        raise Conflict(f"A service account named {name!r} exists already.", code="service_account_exists")
    audit.record(
        work,
        actor=actor,
        action="service_account.created",
        entity_type="service_account",
        entity_id=row.id,
        data={"name": name, "trust": stored},
    )
    return public_service_account(row)


def list_service_accounts(
    work: UnitOfWork, *, grants: Iterable[roles.Grant], limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Service accounts by name, a page at a time."""
    roles.require(grants, "admin")
    query = sa.select(service_accounts).order_by(service_accounts.c.name).limit(limit + 1)
    if cursor:
        query = query.where(service_accounts.c.name > decode_cursor(cursor, (str,))[0])
    rows, next_cursor = page(work.conn.execute(query).all(), limit, lambda r: [r.name])
    return [public_service_account(r) for r in rows], next_cursor


def get_service_account(
    work: UnitOfWork, *, grants: Iterable[roles.Grant], service_account_id: uuid.UUID
) -> dict[str, Any]:
    roles.require(grants, "admin")
    return public_service_account(_row(work.conn, service_account_id))


def update_service_account(
    work: UnitOfWork,
    *,
    grants: Iterable[roles.Grant],
    actor: str,
    settings: Settings,
    service_account_id: uuid.UUID,
    if_match: Any = None,
    display_name: str | None = None,
    trust: list[dict[str, Any]] | None = None,
    is_active: bool | None = None,
) -> dict[str, Any]:
    """Change the display name, trust or active flag. A new trust or a deactivation ends every
    access token issued before, at once."""
    roles.require(grants, "admin")
    current = _row(work.conn, service_account_id, lock=True)
    etags.check(public_service_account(current), if_match)
    changes: dict[str, Any] = {}
    if display_name is not None and display_name.strip() != current.display_name:
        changes["display_name"] = display_name.strip()
    if trust is not None:
        stored = _checked_trust(trust, settings=settings)
        if stored != list(current.trust):
            changes["trust"] = stored
    if is_active is not None and is_active != current.is_active:
        changes["is_active"] = is_active
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
        actor=actor,
        action="service_account.updated",
        entity_type="service_account",
        entity_id=current.id,
        data={"name": current.name, "changes": changes},
    )
    work.invalidate(USERS_NAMESPACE)
    return public_service_account(row)


def delete_service_account(
    work: UnitOfWork, *, grants: Iterable[roles.Grant], actor: str, service_account_id: uuid.UUID
) -> None:
    """Delete a service account and its role bindings; its access tokens stop at once."""
    roles.require(grants, "admin")
    current = _row(work.conn, service_account_id, lock=True)
    removed = work.conn.execute(
        sa.delete(bindings)
        .where(bindings.c.subject_type == SUBJECT_TYPE, bindings.c.subject_id == current.id)
        .returning(bindings.c.id)
    ).all()
    work.conn.execute(sa.delete(service_accounts).where(service_accounts.c.id == current.id))
    audit.record(
        work,
        actor=actor,
        action="service_account.deleted",
        entity_type="service_account",
        entity_id=current.id,
        data={"name": current.name, "bindings_deleted": [str(r.id) for r in removed]},
    )
    work.invalidate(USERS_NAMESPACE)


# -- what the guard reads -----------------------------------------------------------------------------


def _bindings_of(conn: sa.Connection, service_account_id: uuid.UUID) -> list[Any]:
    return list(
        conn.execute(
            sa.select(bindings)
            .where(bindings.c.subject_type == SUBJECT_TYPE, bindings.c.subject_id == service_account_id)
            .order_by(bindings.c.created_at, bindings.c.id)
        )
    )


def load_state(conn: sa.Connection, service_account_id: uuid.UUID) -> dict[str, Any] | None:
    """What the guard caches about a service account: name, active flag, credentials version, the
    time it was made and its bindings' scopes as plain data (`[role, application, environments]`)."""
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
        "bindings": [
            [b.role, b.application, list(b.environments) if b.environments is not None else None]
            for b in _bindings_of(conn, service_account_id)
        ],
    }


def grants_of(state: dict[str, Any]) -> tuple[roles.Grant, ...]:
    """The organisation-wide viewer baseline and each binding, as grants."""
    found = [roles.Grant(BASELINE_ROLE)]
    for role, application, environments in state.get("bindings", ()):
        found.append(roles.Grant(role, application, tuple(environments) if environments is not None else None))
    return tuple(found)


def org_role(grants: Iterable[roles.Grant]) -> str:
    """The organisation-wide role: the highest of the grants that cover everything."""
    return roles.role_on(grants) or BASELINE_ROLE


def whoami(
    work: UnitOfWork, *, service_account_id: uuid.UUID, role: str, token: dict[str, Any] | None
) -> dict[str, Any]:
    """`/auth/me` for a service account: itself, what its token may do, and its bindings."""
    row = _row(work.conn, service_account_id)
    return {
        "id": row.id,
        "email": f"{row.name}@{EMAIL_DOMAIN}",
        "display_name": row.display_name,
        "role": role,
        "is_active": row.is_active,
        "created_at": row.created_at,
        "token": token,
        "teams": [],
        "bindings": [public_binding(b) | {"team": None} for b in _bindings_of(work.conn, row.id)],
        "service_account": {"id": row.id, "name": row.name},
    }
