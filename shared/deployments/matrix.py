"""The matrix: applications by environments, a page of applications at a time. Each cell holds the
live release (since when, requested by whom) and the latest attempt where it is another one (a
failed or waiting deployment shows on its cell). Three queries a page, whatever its size."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on

from shared.applications.tables import applications
from shared.auth.tables import bindings, teams, users
from shared.deployments import rules
from shared.deployments.read_models import MatrixQuery
from shared.deployments.tables import deployments, environments
from shared.pagination import Keyset, keyset_page
from shared.platform.work import UnitOfWork

_BY_NAME = Keyset((applications.c.name,), (str,))


def matrix(work: UnitOfWork, query: MatrixQuery) -> tuple[list[dict[str, Any]], str | None]:
    """A page of applications by name, each with a cell per environment."""
    chosen = sa.select(applications.c.name, applications.c.display_name)
    if query.application is not None:
        chosen = chosen.where(applications.c.name == query.application)
    if query.team is not None:
        chosen = chosen.where(bound_to_team(query.team))
    rows, cursor = keyset_page(work.conn, chosen, _BY_NAME, limit=query.limit, cursor=query.cursor)
    names = [row.name for row in rows]
    order = environment_names(work.conn)
    live = _latest(work.conn, names, deployments.c.finished_at, deployments.c.status == "succeeded")
    latest = _latest(work.conn, names, deployments.c.created_at)
    items = []
    for row in rows:
        cells = {}
        for environment in order:
            here, last = live.get((row.name, environment)), latest.get((row.name, environment))
            shown_last = (
                last if last is not None and (here is None or last["deployment_id"] != here["deployment_id"]) else None
            )
            cells[environment] = {"live": here, "latest": shown_last}
        items.append({"application": row.name, "display_name": row.display_name, "cells": cells})
    return items, cursor


def environment_names(conn: sa.Connection) -> list[str]:
    """The catalogue's environments, in order: the matrix's columns."""
    return list(conn.scalars(sa.select(environments.c.name).order_by(environments.c.position)))


def bound_to_team(team: str, application: Any = applications.c.name) -> Any:
    """Whether a binding of `team` reaches the `application` (a column; one on every application
    reaches all)."""
    return sa.exists(
        sa.select(bindings.c.id)
        .join(teams, sa.and_(bindings.c.subject_type == "team", bindings.c.subject_id == teams.c.id))
        .where(
            teams.c.name == team,
            sa.or_(bindings.c.application.is_(None), bindings.c.application == application),
        )
    )


def _latest(conn: sa.Connection, names: list[str], newest: Any, *where: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """Per application and environment, the deployment with the highest `newest` among those
    matching `where` (one DISTINCT ON query over the page's applications), with its requester's name."""
    if not names:
        return {}
    query = (
        sa.select(
            deployments.c.application,
            deployments.c.environment,
            deployments.c.id.label("deployment_id"),
            deployments.c.release_id,
            deployments.c.version,
            deployments.c.kind,
            deployments.c.status,
            deployments.c.requested_by,
            sa.func.coalesce(
                users.c.display_name, users.c.email, sa.case(rules.RULE_NAMES, value=deployments.c.requested_by_rule)
            ).label("requested_by_name"),
            deployments.c.created_at,
            deployments.c.finished_at,
        )
        .outerjoin(users, users.c.id == deployments.c.requested_by)
        .where(deployments.c.application.in_(names), *where)
        .ext(distinct_on(deployments.c.application, deployments.c.environment))
        .order_by(deployments.c.application, deployments.c.environment, newest.desc().nulls_last(), deployments.c.id)
    )
    found = {}
    for row in conn.execute(query):
        entry = row._asdict()
        found[(entry.pop("application"), entry.pop("environment"))] = entry
    return found
