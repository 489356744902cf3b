"""Role bindings: a role granted to a user, a team or a service account on a scope (one application
or all, some environments or all), and the grants the guard reads for a caller."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared.audit import service as audit
from shared.auth import roles
from shared.auth.principal import Principal
from shared.auth.schemas import BindingIn, BindingQuery
from shared.auth.tables import bindings, service_accounts, team_members, teams, users
from shared.errors import FieldError, Invalid, NotFound
from shared.pagination import Id, Keyset, Timestamp, keyset_page
from shared.platform.namespaces import USERS_NAMESPACE
from shared.platform.work import UnitOfWork

# Auth sits below applications and deployments (they ask it who may do what), so it names their
# catalogues' tables here without importing those concepts: only to check that a binding's scope exists.
_applications = sa.table("applications", sa.column("name"))
_environments = sa.table("environments", sa.column("name"))
_OLDEST_FIRST = Keyset((bindings.c.created_at, bindings.c.id), (Timestamp, Id))


def public_binding(row: Any) -> dict[str, Any]:
    """A binding as the API shows it."""
    return {
        "id": row.id,
        "subject": {"type": row.subject_type, "id": row.subject_id},
        "role": row.role,
        "application": row.application,
        "environments": list(row.environments) if row.environments is not None else None,
        "created_by": row.created_by,
        "created_at": row.created_at,
    }


def _check_subject(conn: sa.Connection, subject_type: str, subject_id: uuid.UUID) -> None:
    table = {"user": users, "team": teams, "service_account": service_accounts}[subject_type]
    if conn.scalar(sa.select(table.c.id).where(table.c.id == subject_id)) is None:
        raise Invalid(
            f"There is no {subject_type} {subject_id}.",
            code="unknown_subject",
            errors=[FieldError("subject.id", f"no such {subject_type}")],
        )


def _check_scope(conn: sa.Connection, application: str | None, environments: list[str] | None) -> None:
    if (
        application is not None
        and conn.scalar(sa.select(_applications.c.name).where(_applications.c.name == application)) is None
    ):
        raise Invalid(
            f"There is no application {application!r}.",
            code="unknown_application",
            errors=[FieldError("application", "unknown application")],
        )
    if environments:
        known = set(conn.scalars(sa.select(_environments.c.name).where(_environments.c.name.in_(environments))))
        unknown = [e for e in environments if e not in known]
        if unknown:
            raise Invalid(
                f"There is no environment {unknown[0]!r}.",
                code="unknown_environment",
                errors=[FieldError("environments", f"unknown environment {name!r}") for name in unknown],
            )


def create_binding(work: UnitOfWork, body: BindingIn, caller: Principal) -> dict[str, Any]:
    """Grant the body's role to its subject on its scope: organisation-wide admins anywhere, an
    application's admins on that application (so nobody grants above their own role); applies to
    the next request."""
    application, subject = body.application, body.subject
    roles.require(caller.grants, "admin", application=application)
    environments = sorted(set(body.environments)) if body.environments is not None else None
    _check_subject(work.conn, subject.type, subject.id)
    _check_scope(work.conn, application, environments)
    row = work.conn.execute(
        sa.insert(bindings)
        .values(
            id=uuid.uuid4(),
            subject_type=subject.type,
            subject_id=subject.id,
            role=body.role,
            application=application,
            environments=environments,
            created_by=caller.user_id,
            created_at=work.now,
        )
        .returning(bindings)
    ).one()
    found = public_binding(row)
    _audit(work, caller, "binding.created", found)
    return found


def list_bindings(work: UnitOfWork, query: BindingQuery) -> tuple[list[dict[str, Any]], str | None]:
    """Bindings, oldest first, filtered."""
    select = sa.select(bindings)
    for column in ("subject_type", "subject_id", "application"):
        value = getattr(query, column)
        if value is not None:
            select = select.where(bindings.c[column] == value)
    rows, next_cursor = keyset_page(work.conn, select, _OLDEST_FIRST, limit=query.limit, cursor=query.cursor)
    return [public_binding(r) for r in rows], next_cursor


def delete_binding(work: UnitOfWork, binding_id: uuid.UUID, caller: Principal) -> None:
    """Remove a binding (whoever may create it may remove it); it stops at the subject's next request."""
    row = work.conn.execute(sa.select(bindings).where(bindings.c.id == binding_id).with_for_update()).first()
    if row is None:
        raise NotFound("No such binding.", code="binding_not_found")
    roles.require(caller.grants, "admin", application=row.application)
    work.conn.execute(sa.delete(bindings).where(bindings.c.id == row.id))
    _audit(work, caller, "binding.deleted", public_binding(row))


def _audit(work: UnitOfWork, caller: Principal, action: str, binding: dict[str, Any]) -> None:
    """Record a binding's creation or removal; it applies to the subject's next request."""
    audit.record(
        work,
        actor=caller.actor,
        action=action,
        entity_type="binding",
        entity_id=binding["id"],
        data={k: binding[k] for k in ("subject", "role", "application", "environments")},
    )
    work.invalidate(USERS_NAMESPACE)


# -- what a caller holds ------------------------------------------------------------------------------


def _of_user(conn: sa.Connection, user_id: uuid.UUID) -> list[Any]:
    """The user's bindings, direct or through a team, each with the team's name (None: direct)."""
    their_teams = sa.select(team_members.c.team_id).where(team_members.c.user_id == user_id)
    query = (
        sa.select(bindings, teams.c.name.label("team"))
        .outerjoin(teams, sa.and_(bindings.c.subject_type == "team", teams.c.id == bindings.c.subject_id))
        .where(
            sa.or_(
                sa.and_(bindings.c.subject_type == "user", bindings.c.subject_id == user_id),
                sa.and_(bindings.c.subject_type == "team", bindings.c.subject_id.in_(their_teams)),
            )
        )
        .order_by(bindings.c.created_at, bindings.c.id)
    )
    return list(conn.execute(query))


def caller_scope(conn: sa.Connection, user_id: uuid.UUID) -> dict[str, Any]:
    """What the guard caches about a user besides their account: their teams' names and their
    bindings' scopes as plain data (`[role, application, environments]`)."""
    names = conn.scalars(
        sa.select(teams.c.name)
        .join(team_members, team_members.c.team_id == teams.c.id)
        .where(team_members.c.user_id == user_id)
        .order_by(teams.c.name)
    )
    return {"teams": list(names), "bindings": [roles.cached_scope(r) for r in _of_user(conn, user_id)]}


def of_service_account(conn: sa.Connection, service_account_id: uuid.UUID) -> list[Any]:
    """The service account's bindings, oldest first."""
    return list(
        conn.execute(
            sa.select(bindings)
            .where(bindings.c.subject_type == "service_account", bindings.c.subject_id == service_account_id)
            .order_by(bindings.c.created_at, bindings.c.id)
        )
    )


def effective_bindings(conn: sa.Connection, *, user_id: uuid.UUID, cap: str | None = None) -> list[dict[str, Any]]:
    """The user's bindings, direct or through a team (`team`), each role capped at `cap` (an API token's role)."""
    found = []
    for row in _of_user(conn, user_id):
        binding = public_binding(row) | {"team": row.team}
        if cap is not None:
            binding["role"] = roles.lower_of(binding["role"], cap)
        found.append(binding)
    return found
