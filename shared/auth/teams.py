"""Teams: named groups of users that role bindings (and an application's approver stages) refer to."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.audit import service as audit
from shared.auth import roles
from shared.auth.principal import Principal
from shared.auth.schemas import MemberOut, TeamIn, TeamOut
from shared.auth.tables import team_members, teams, users
from shared.errors import Conflict, FieldError, Invalid, NotFound
from shared.models import Shape
from shared.pagination import Keyset, PageQuery, keyset_page
from shared.platform.db import insert_new
from shared.platform.namespaces import USERS_NAMESPACE
from shared.platform.work import UnitOfWork

public_team = Shape(TeamOut)
public_member = Shape(MemberOut)
_BY_NAME = Keyset((teams.c.name,), (str,))


def known_teams(conn: sa.Connection, names: Iterable[str]) -> set[str]:
    """Which of `names` are teams."""
    wanted = set(names)
    if not wanted:
        return set()
    return set(conn.scalars(sa.select(teams.c.name).where(teams.c.name.in_(wanted))))


def require_teams(conn: sa.Connection, named: Mapping[str, str]) -> None:
    """422 `unknown_team` for the first field (`named` maps each field to the team it names) whose
    team does not exist."""
    known = known_teams(conn, named.values())
    for at, team in named.items():
        if team not in known:
            raise Invalid(f"There is no team {team!r}.", code="unknown_team", errors=[FieldError(at, "unknown team")])


def _team(conn: sa.Connection, name: str) -> Any:
    row = conn.execute(sa.select(teams).where(teams.c.name == name)).first()
    if row is None:
        raise NotFound(f"There is no team {name!r}.", code="team_not_found")
    return row


def create_team(work: UnitOfWork, body: TeamIn, caller: Principal) -> dict[str, Any]:
    """A new team (organisation-wide admins only); 409 `team_exists` when the name is taken."""
    roles.require(caller.grants, "admin")
    name = body.name
    exists = Conflict(f"A team named {name!r} exists already.", code="team_exists")
    made = {"id": uuid.uuid4(), "name": name, "display_name": body.display_name.strip(), "created_by": caller.user_id}
    row = insert_new(work.conn, teams, made | {"created_at": work.now}, key="name", taken=lambda: exists)
    audit.record(
        work, actor=caller.actor, action="team.created", entity_type="team", entity_id=row.id, data={"name": name}
    )
    return public_team(row) | {"members": []}


def list_teams(work: UnitOfWork, query: PageQuery) -> tuple[list[dict[str, Any]], str | None]:
    """Teams by name, a page at a time."""
    rows, next_cursor = keyset_page(work.conn, sa.select(teams), _BY_NAME, limit=query.limit, cursor=query.cursor)
    return [public_team(r) for r in rows], next_cursor


def get_team(work: UnitOfWork, *, name: str) -> dict[str, Any]:
    """One team with its members."""
    team = _team(work.conn, name)
    members = work.conn.execute(
        sa.select(team_members.c.user_id, users.c.email, users.c.display_name, team_members.c.added_at)
        .join(users, users.c.id == team_members.c.user_id)
        .where(team_members.c.team_id == team.id)
        .order_by(users.c.email)
    )
    return public_team(team) | {"members": [public_member(m) for m in members]}


Membership = Literal["add", "remove"]


def set_membership(work: UnitOfWork, name: str, user_id: uuid.UUID, change: Membership, caller: Principal) -> None:
    """Add or remove a user (idempotent); it applies to their very next request."""
    roles.require(caller.grants, "admin")
    team = _team(work.conn, name)
    if work.conn.scalar(sa.select(users.c.id).where(users.c.id == user_id)) is None:
        raise NotFound("No such user.", code="user_not_found")
    if change == "add":
        changed = work.conn.execute(
            pg_insert(team_members)
            .values(team_id=team.id, user_id=user_id, added_at=work.now)
            .on_conflict_do_nothing()
            .returning(team_members.c.user_id)
        ).first()
    else:
        changed = work.conn.execute(
            sa.delete(team_members)
            .where(team_members.c.team_id == team.id, team_members.c.user_id == user_id)
            .returning(team_members.c.user_id)
        ).first()
    if changed is None:
        return
    audit.record(
        work,
        actor=caller.actor,
        action="team.member_added" if change == "add" else "team.member_removed",
        entity_type="team",
        entity_id=team.id,
        data={"team": name, "user_id": str(user_id)},
    )
    # The guard caches each caller's teams and grants: the change applies to the next request.
    work.invalidate(USERS_NAMESPACE)
