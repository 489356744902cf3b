"""The promotion path: environments in order, with their approvals and soak time."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared import etags
from shared.applications import rules as paths
from shared.applications import service as applications
from shared.audit import service as audit
from shared.auth import roles
from shared.auth.people import describe_actor
from shared.auth.principal import Principal
from shared.auth.teams import require_teams
from shared.deployments import holds
from shared.deployments.schemas import EnvironmentOut, PolicyIn
from shared.deployments.tables import environments
from shared.errors import Conflict, FieldError, Invalid, NotFound, PreconditionFailed
from shared.events import outbox
from shared.models import Shape
from shared.pagination import Keyset, Position, keyset_page
from shared.platform.db import savepoint
from shared.platform.work import UnitOfWork

_BY_POSITION = Keyset((environments.c.position,), (Position,))
_environment = Shape(EnvironmentOut, given=("policy",))


def environment_row(conn: sa.Connection, name: str, *, lock: Literal["share", "update"] | None = None) -> Any:
    """The environment's row (held FOR SHARE or FOR UPDATE with `lock`), or 422 `unknown_environment`."""
    query = sa.select(environments).where(environments.c.name == name)
    row = conn.execute(query.with_for_update(read=lock == "share") if lock else query).first()
    if row is None:
        raise Invalid(
            f"There is no environment {name!r}.",
            code="unknown_environment",
            errors=[FieldError("environment", "unknown environment")],
        )
    return row


def public_policy(row: Any) -> dict[str, Any]:
    """An environment's policy as the API shows it."""
    return {
        "environment": row.name,
        "min_approvals": row.min_approvals,
        "approver_team": row.approver_team,
        "skippable": row.skippable,
        "expire_after_hours": row.expire_after_hours,
        "deploy_windows": row.deploy_windows,
        "windows_timezone": row.windows_timezone,
        "outside_window": row.outside_window,
        "approval_rules": row.approval_rules,
        "updated_at": row.policy_updated_at,
    }


def public_environment(row: Any) -> dict[str, Any]:
    """An environment as the API shows it, with its policy."""
    return _environment(row, policy=public_policy(row))


def policy_of(row: Any) -> paths.Policy:
    """An environment row's policy as the rules see it."""
    own = paths.approval_rules_of(row.approval_rules)
    return paths.Policy(row.name, row.position, row.min_approvals, row.approver_team, row.skippable, own)


def windows_of(row: Any) -> holds.DeployWindows | None:
    """An environment row's deploy windows as the rules see them (None: any time)."""
    if not row.deploy_windows:
        return None
    return holds.DeployWindows(tuple(row.deploy_windows), row.windows_timezone, row.outside_window)


def policies(conn: sa.Connection) -> dict[str, paths.Policy]:
    """Every environment's policy, by environment (what a path is checked against; environments are few)."""
    return {row.name: policy_of(row) for row in conn.execute(sa.select(environments))}


def list_environments(work: UnitOfWork, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The promotion path, first stage first."""
    rows, next_cursor = keyset_page(work.conn, sa.select(environments), _BY_POSITION, limit=limit, cursor=cursor)
    return [public_environment(r) for r in rows], next_cursor


def default_path(conn: sa.Connection) -> list[paths.Stage]:
    """The environments catalogue as a promotion path: what an application without its own follows."""
    return path_of_catalogue(conn.execute(sa.select(environments).order_by(environments.c.position)))


def path_of_catalogue(rows: Iterable[Any]) -> list[paths.Stage]:
    """Environment rows, in their order, as the default promotion path."""
    return [paths.Stage(r.name, r.required_approvals, r.soak_minutes) for r in rows]


def promotion_path(conn: sa.Connection, application: str) -> list[paths.Stage]:
    """The path the gates follow for `application`: its own, else the default one."""
    own = applications.own_path(conn, application)
    return paths.path_followed(own, default_path(conn) if not own else [])[0]


def put_environment(
    work: UnitOfWork,
    *,
    name: str,
    position: int,
    required_approvals: int,
    soak_minutes: int,
    actor: str,
    if_match: Callable[[str], bool] | None = None,
    grants: Iterable[roles.Grant] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create or replace an environment (organisation-wide admins; `grants` None: a trusted caller);
    returns it and whether it is new."""
    if grants is not None:
        roles.require(grants, "admin")
    before = work.conn.execute(sa.select(environments).where(environments.c.name == name).with_for_update()).first()
    if if_match is not None:
        if before is None:
            raise PreconditionFailed(f"There is no environment {name!r} to match.", code="stale_etag")
        etags.check(public_environment(before), if_match)
    values = {
        "position": position,
        "required_approvals": required_approvals,
        "soak_minutes": soak_minutes,
        "updated_at": work.now,
    }
    with savepoint(
        work.conn, taken=lambda: Conflict(f"Another environment is at position {position}.", code="position_taken")
    ):
        row = work.conn.execute(
            pg_insert(environments)
            .values(name=name, **values)
            .on_conflict_do_update(index_elements=["name"], set_=values)
            .returning(environments)
        ).one()
    audit.record(
        work,
        actor=actor,
        action="environment.created" if before is None else "environment.updated",
        entity_type="environment",
        entity_id=name,
        data={
            "before": public_environment(before) if before is not None else None,
            "after": values | {"updated_at": None},
        },
    )
    return public_environment(row), before is None


def get_policy(work: UnitOfWork, *, name: str) -> dict[str, Any]:
    """One environment's policy (404 `environment_not_found`)."""
    return public_policy(_load(work.conn, name))


def _load(conn: sa.Connection, name: str, *, lock: bool = False) -> Any:
    query = sa.select(environments).where(environments.c.name == name)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"There is no environment {name!r}.", code="environment_not_found")
    return row


def put_policy(
    work: UnitOfWork,
    *,
    name: str,
    policy: PolicyIn,
    caller: Principal,
    if_match: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Replace an environment's policy: organisation-wide admins only, since it binds every application's
    admins; 422 `unknown_team` for a team that does not exist. Audited and evented as `environment.updated`."""
    roles.require(caller.grants, "admin")
    actor = caller.actor
    before = _load(work.conn, name, lock=True)
    if if_match is not None:
        etags.check(public_policy(before), if_match)
    named = {"approver_team": policy.approver_team} if policy.approver_team else {}
    named |= {f"approval_rules.{at}.team": rule.team for at, rule in enumerate(policy.approval_rules) if rule.team}
    require_teams(work.conn, named)
    values = policy.model_dump(mode="json") | {"policy_updated_at": work.now}
    row = work.conn.execute(
        sa.update(environments).where(environments.c.name == name).values(**values).returning(environments)
    ).one()
    shown = public_policy(row)
    audit.record(
        work,
        actor=actor,
        action="environment.updated",
        entity_type="environment",
        entity_id=name,
        data={"environment": name, "policy": {"before": public_policy(before), "after": shown}},
    )
    return shown


@outbox.describes("environment")
def describe_environment(conn: sa.Connection, name: str, data: Any, actor: str) -> dict[str, Any]:
    """An environment's events carry the change as its audit record holds it (before and after)."""
    return {"environment": name, "changes": dict(data), "actor": describe_actor(conn, actor)}
