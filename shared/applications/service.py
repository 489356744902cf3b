"""Applications: registered, read, listed and changed, with their own promotion paths.

An application with no stages of its own follows the environments catalogue (the default path);
`shared.catalog` shows it with that path, since the catalogue belongs to deployments, above this."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.applications import rules
from shared.applications.tables import application_stages, applications
from shared.audit import service as audit
from shared.auth import roles
from shared.auth.tables import teams
from shared.connections import sqlstate
from shared.db import UnitOfWork
from shared.errors import Conflict, FieldError, Invalid, NotFound
from shared.pagination import decode_cursor, page

FOREIGN_KEY_VIOLATION = "23503"
_columns = [applications.c.name, applications.c.display_name, applications.c.description]
_columns += [applications.c.created_at, applications.c.updated_at]


def exists(conn: sa.Connection, name: str) -> bool:
    return conn.scalar(sa.select(applications.c.name).where(applications.c.name == name)) is not None


def _stage(row: Any) -> rules.Stage:
    return rules.Stage(row.environment, row.required_approvals, row.soak_minutes, row.approver_team)


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
    query = sa.select(*_columns).order_by(applications.c.name).limit(limit + 1)
    if cursor:
        query = query.where(applications.c.name > decode_cursor(cursor, (str,))[0])
    return page(conn.execute(query).all(), limit, lambda r: [r.name])


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


def _set_path(work: UnitOfWork, name: str, path: list[dict[str, Any]] | None) -> None:
    """Replace the application's stages (None: none, the default path); 422 for an environment or team
    that does not exist."""
    work.conn.execute(sa.delete(application_stages).where(application_stages.c.application == name))
    if not path:
        return
    rules.check_path([stage["environment"] for stage in path])
    named = {stage["approver_team"] for stage in path if stage.get("approver_team")}
    if named:
        known = set(work.conn.scalars(sa.select(teams.c.name).where(teams.c.name.in_(named))))
        for index, stage in enumerate(path):
            if stage.get("approver_team") and stage["approver_team"] not in known:
                raise Invalid(
                    f"There is no team {stage['approver_team']!r}.",
                    code="unknown_team",
                    errors=[FieldError(f"path.{index}.approver_team", "unknown team")],
                )
    rows = [{"application": name, "position": i, **stage} for i, stage in enumerate(path, start=1)]
    try:
        with work.conn.begin_nested():
            work.conn.execute(sa.insert(application_stages), rows)
    except sa.exc.DBAPIError as error:  # pg8000 reports some violations as ProgrammingError
        if sqlstate(error) != FOREIGN_KEY_VIOLATION:
            raise
        # The environment is a foreign key into the catalogue (the only one left unchecked above).
        args = getattr(error.orig, "args", ())
        detail = str(args[0].get("D", "")) if args and isinstance(args[0], dict) else str(error.orig)
        match = re.search(r"\(environment\)=\(([^)]*)\)", detail)
        missing = match.group(1) if match else None
        at = next((i for i, s in enumerate(path) if s["environment"] == missing), None)
        raise Invalid(
            f"There is no environment {missing!r}." if missing else "A stage names an unknown environment.",
            code="unknown_environment",
            errors=[FieldError(f"path.{at}.environment" if at is not None else "path", "unknown environment")],
        ) from None


def create(
    work: UnitOfWork,
    *,
    grants: Iterable[roles.Grant],
    actor: str,
    name: str,
    display_name: str,
    description: str = "",
    path: list[dict[str, Any]] | None = None,
) -> Any:
    """Register an application (organisation-wide admins); 409 `application_exists`."""
    roles.require(grants, "admin")
    row = work.conn.execute(
        pg_insert(applications)
        .values(
            name=name,
            display_name=display_name.strip(),
            description=description,
            created_at=work.now,
            updated_at=work.now,
        )
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(*_columns)
    ).first()
    if row is None:
        raise Conflict(f"An application named {name!r} exists already.", code="application_exists")
    _set_path(work, name, path)
    audit.record(
        work,
        actor=actor,
        action="application.created",
        entity_type="application",
        entity_id=name,
        data={"display_name": row.display_name, "path": path},
    )
    return row


def change(work: UnitOfWork, *, row: Any, actor: str, changes: dict[str, Any]) -> Any:
    """Change an application (`row` held FOR UPDATE, the caller checked who may); the row as it is now."""
    if not changes:
        return row
    if "path" in changes:
        _set_path(work, row.name, changes["path"])
    values = {k: v for k, v in changes.items() if k in ("display_name", "description")}
    row = work.conn.execute(
        sa.update(applications)
        .where(applications.c.name == row.name)
        .values(**values, updated_at=work.now)
        .returning(*_columns)
    ).one()
    audit.record(
        work, actor=actor, action="application.updated", entity_type="application", entity_id=row.name, data=changes
    )
    return row


def stage_dicts(path: Sequence[rules.Stage]) -> list[dict[str, Any]]:
    """A path as the API shows it."""
    return [dataclasses.asdict(stage) for stage in path]
