"""The access review: who may deploy, approve and override (a freeze, a lock) an application in an
environment, and through what: their organisation-wide role, a binding of theirs, or a binding of a
team they are in. Auditors ask for it; organisation-wide admins may read it (`GET /auth/access`).

What each role may do there is the API's own rule (docs/api.md, "Roles"): developer deploys,
release_manager approves and rolls back, admin overrides. An approval also needs the stage's approval
rules and approver teams, which the releases function checks; this answers the role's half."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared.auth import roles
from shared.auth.access_models import AccessQuery
from shared.auth.tables import bindings, service_accounts, team_members, teams, users
from shared.platform.work import UnitOfWork

MAY = (("deploy", "developer"), ("approve", "release_manager"), ("override", "admin"))


def who_may(work: UnitOfWork, query: AccessQuery) -> list[dict[str, Any]]:
    """Every active account with at least developer there, highest role first, then by name."""
    conn, app, env = work.conn, query.application, query.environment
    reach = sa.and_(
        sa.or_(bindings.c.application.is_(None), bindings.c.application == app),
        sa.or_(bindings.c.environments.is_(None), sa.literal(env) == sa.any_(bindings.c.environments)),
    )
    found: dict[tuple[str, uuid.UUID], dict[str, Any]] = {}

    def grant(kind: str, subject: uuid.UUID, name: str, via: dict[str, Any]) -> None:
        entry = {"subject_type": kind, "subject_id": subject, "name": name, "via": []}
        found.setdefault((kind, subject), entry)["via"].append(via)

    for account in conn.execute(sa.select(users.c.id, users.c.email, users.c.role).where(users.c.is_active)):
        via = {"role": account.role, "source": "organisation", "binding_id": None, "team": None}
        grant("user", account.id, account.email, via)
    direct = (
        sa.select(bindings.c.id, bindings.c.role, bindings.c.subject_id, users.c.email)
        .join(users, sa.and_(bindings.c.subject_type == "user", users.c.id == bindings.c.subject_id))
        .where(reach, users.c.is_active)
    )
    for link in conn.execute(direct):
        via = {"role": link.role, "source": "binding", "binding_id": link.id, "team": None}
        grant("user", link.subject_id, link.email, via)
    through_team = (
        sa.select(bindings.c.id, bindings.c.role, teams.c.name, users.c.id.label("user_id"), users.c.email)
        .join(teams, sa.and_(bindings.c.subject_type == "team", teams.c.id == bindings.c.subject_id))
        .join(team_members, team_members.c.team_id == teams.c.id)
        .join(users, users.c.id == team_members.c.user_id)
        .where(reach, users.c.is_active)
    )
    for member in conn.execute(through_team):
        via = {"role": member.role, "source": "team_binding", "binding_id": member.id, "team": member.name}
        grant("user", member.user_id, member.email, via)
    accounts = (
        sa.select(bindings.c.id, bindings.c.role, service_accounts.c.id.label("account_id"), service_accounts.c.name)
        .join(
            service_accounts,
            sa.and_(bindings.c.subject_type == "service_account", service_accounts.c.id == bindings.c.subject_id),
        )
        .where(reach, service_accounts.c.is_active)
    )
    for bound in conn.execute(accounts):
        via = {"role": bound.role, "source": "binding", "binding_id": bound.id, "team": None}
        grant("service_account", bound.account_id, bound.name, via)
    shown = []
    for entry in found.values():
        entry["via"].sort(key=lambda v: -roles.rank(v["role"]))
        top = entry["via"][0]["role"]
        may = [what for what, needed in MAY if roles.at_least(top, needed)]
        if may:
            shown.append(entry | {"role": top, "may": may})
    return sorted(shown, key=lambda e: (-roles.rank(e["role"]), e["name"]))
