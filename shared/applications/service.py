"""Applications: registered, read, listed and changed, with their own promotion paths.

An application with no stages of its own follows the environments catalogue (the default path);
`shared.catalog` shows it with that path, since the catalogue belongs to deployments, above this."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.applications import rules
from shared.applications.schemas import ApplicationIn, ApplicationPatch
from shared.applications.tables import application_stages, applications
from shared.audit import service as audit
from shared.auth import roles
from shared.auth.people import describe_actor
from shared.auth.teams import require_teams
from shared.errors import Conflict, FieldError, Invalid, NotFound
from shared.events import outbox
from shared.pagination import Keyset, keyset_page
from shared.platform.db import insert_new
from shared.platform.work import UnitOfWork

_columns = [applications.c.name, applications.c.display_name, applications.c.description]
_columns += [applications.c.created_at, applications.c.updated_at]
_BY_NAME = Keyset((applications.c.name,), (str,))


def exists(conn: sa.Connection, name: str) -> bool:
    return conn.scalar(sa.select(applications.c.name).where(applications.c.name == name)) is not None


def _stage(row: Any) -> rules.Stage:
    own = rules.approval_rules_of(row.approval_rules)
    return rules.Stage(
        row.environment,
        row.required_approvals,
        row.soak_minutes,
        row.approver_team,
        row.allow_older,
        own,
        row.skippable_by,
        row.auto_promote,
        row.train_schedule,
        row.train_timezone,
        row.auto_rollback,
    )


def own_paths(conn: sa.Connection, names: Sequence[str]) -> dict[str, list[rules.Stage]]:
    """Each application's own stages, first first (empty: it follows the default path); one query."""
    found: dict[str, list[rules.Stage]] = {name: [] for name in names}
    if names:
        rows = conn.execute(
            sa.select(application_stages)
            .where(application_stages.c.application.in_(list(names)))
            .order_by(application_stages.c.application, application_stages.c.position)
        )
        for row in rows:
            found[row.application].append(_stage(row))
    return found


def own_path(conn: sa.Connection, name: str) -> list[rules.Stage]:
    """The application's own stages, first first (empty: it follows the default path)."""
    return own_paths(conn, [name])[name]


def load(conn: sa.Connection, name: str, *, lock: bool = False) -> Any:
    """The application's row, or 404 `application_not_found`."""
    query = sa.select(*_columns).where(applications.c.name == name)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"There is no application {name!r}.", code="application_not_found")
    return row


def list_page(conn: sa.Connection, *, limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    """Applications by name, a page at a time."""
    return keyset_page(conn, sa.select(*_columns), _BY_NAME, limit=limit, cursor=cursor)


# -- writing ----------------------------------------------------------------------------------------


def register(work: UnitOfWork, *, name: str) -> bool:
    """Register `name` on the default path unless it is registered; whether it was new. Its first
    release does this, and that release's audit event says so (`registered_application`)."""
    row = work.conn.execute(
        pg_insert(applications)
        .values(name=name, display_name=name, description="", created_at=work.now, updated_at=work.now)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(applications.c.name)
    ).first()
    return row is not None


def _set_path(
    work: UnitOfWork, name: str, path: Sequence[rules.Stage] | None, policies: Mapping[str, rules.Policy]
) -> None:
    """Replace the application's stages (None: none, the default path) with exactly `path`; 422 for a
    path below an environment policy, or an environment or team that does not exist."""
    work.conn.execute(sa.delete(application_stages).where(application_stages.c.application == name))
    if not path:
        return
    rules.check_path(path)
    named = {
        f"path.{index}.approver_team": stage.approver_team for index, stage in enumerate(path) if stage.approver_team
    } | {
        f"path.{index}.approval_rules.{at}.team": rule.team
        for index, stage in enumerate(path)
        for at, rule in enumerate(stage.approval_rules)
        if rule.team
    }
    require_teams(work.conn, named)
    _check_environments(path, policies)
    rules.check_policies(path, policies)
    # Every row carries every column: a stage is a complete value, so one executemany stores each as given.
    rows = [{"application": name, "position": i, **dataclasses.asdict(s)} for i, s in enumerate(path, start=1)]
    work.conn.execute(sa.insert(application_stages), rows)


def _check_environments(path: Sequence[rules.Stage], policies: Mapping[str, rules.Policy]) -> None:
    """422 `unknown_environment` for a stage naming an environment the catalogue lacks (`policies`
    holds one entry per environment)."""
    for index, stage in enumerate(path):
        if stage.environment not in policies:
            raise Invalid(
                f"There is no environment {stage.environment!r}.",
                code="unknown_environment",
                errors=[FieldError(f"path.{index}.environment", "unknown environment")],
            )


def create(
    work: UnitOfWork,
    *,
    grants: Iterable[roles.Grant],
    actor: str,
    application: ApplicationIn,
    policies: Mapping[str, rules.Policy],
) -> Any:
    """Register an application (organisation-wide admins); 409 `application_exists`."""
    roles.require(grants, "admin")
    values = {
        "name": application.name,
        "display_name": application.display_name.strip(),
        "description": application.description,
        "created_at": work.now,
        "updated_at": work.now,
    }
    row = insert_new(
        work.conn,
        applications,
        values,
        key="name",
        returning=_columns,
        taken=lambda: Conflict(f"An application named {application.name!r} exists already.", code="application_exists"),
    )
    path = application.stages()
    _set_path(work, row.name, path, policies)
    audit.record(
        work,
        actor=actor,
        action="application.created",
        entity_type="application",
        entity_id=row.name,
        data={"display_name": row.display_name, "path": stage_dicts(path) if path else None},
    )
    return row


def change(
    work: UnitOfWork, *, row: Any, actor: str, patch: ApplicationPatch, policies: Mapping[str, rules.Policy]
) -> Any:
    """Change an application (`row` held FOR UPDATE, the caller checked who may); the row as it is now.
    The audit record (and so the `application.updated` event) holds what was stored, not what was sent."""
    fields = patch.model_fields_set
    if not fields:
        return row
    recorded: dict[str, Any] = {}
    if "path" in fields:
        path = patch.stages()
        _set_path(work, row.name, path, policies)
        recorded["path"] = stage_dicts(path) if path else None
    values = {name: getattr(patch, name) for name in ("display_name", "description") if name in fields}
    row = work.conn.execute(
        sa.update(applications)
        .where(applications.c.name == row.name)
        .values(**values, updated_at=work.now)
        .returning(*_columns)
    ).one()
    recorded |= {name: getattr(row, name) for name in values}
    audit.record(
        work,
        actor=actor,
        action="application.updated",
        entity_type="application",
        entity_id=row.name,
        data={"application": row.name, **recorded},
    )
    return row


@outbox.describes("application")
def describe_application(conn: sa.Connection, name: str, data: Any, actor: str) -> dict[str, Any]:
    """An application's events carry what its audit record holds: the names and path as stored."""
    return {"application": name, "changes": dict(data), "actor": describe_actor(conn, actor)}


def stage_dicts(path: Sequence[rules.Stage]) -> list[dict[str, Any]]:
    """A path as the API shows it."""
    return [dataclasses.asdict(stage) for stage in path]
