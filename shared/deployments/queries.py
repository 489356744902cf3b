"""Read models over deployments that the release catalogue (release reads and lists) uses, and what
is live where."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on

from shared.deployments.schemas import DeploymentSummaryOut
from shared.deployments.tables import deployments
from shared.releases.tables import releases

_SUMMARY_FIELDS = tuple(DeploymentSummaryOut.model_fields)
_SUMMARY_TIMESTAMPS = ("created_at", "finished_at")
# Written into the SQL, not bound: a statement without parameters is one round trip (`release_select`).
_SUCCEEDED: sa.ColumnClause[str] = sa.literal_column("'succeeded'")
_ONE: sa.ColumnClause[int] = sa.literal_column("1")


@functools.cache
def summary_column() -> sa.Label[Any]:
    """A column for a SELECT of `releases`: the release's deployment summary as one JSON object with,
    per environment (by name), its latest deployment there and whether it is live now (the
    application's latest success there). Read beside the release, it saves a statement.
    Built once, on first use."""
    latest = (
        sa.select(
            deployments.c.environment,
            deployments.c.id,
            deployments.c.kind,
            deployments.c.status,
            deployments.c.created_at,
            deployments.c.finished_at,
        )
        .where(deployments.c.release_id == releases.c.id)
        .ext(distinct_on(deployments.c.environment))
        .order_by(deployments.c.environment, deployments.c.created_at.desc())
        .correlate(releases)
        .subquery("latest")
    )
    # The release live in each of those environments: the application's latest success there (an
    # index scan, newest first, one row: cheaper to plan and run than a DISTINCT ON joined in).
    succeeded = deployments.alias("succeeded")
    live = (
        sa.select(succeeded.c.release_id)
        .where(
            succeeded.c.application == releases.c.application,
            succeeded.c.environment == latest.c.environment,
            succeeded.c.status == _SUCCEEDED,
        )
        .order_by(succeeded.c.finished_at.desc())
        .limit(_ONE)
        .correlate(releases, latest)
        .scalar_subquery()
    )
    values: dict[str, sa.ColumnElement[Any]] = {
        "deployment_id": latest.c.id,
        "kind": latest.c.kind,
        "status": latest.c.status,
        "created_at": latest.c.created_at,
        "finished_at": latest.c.finished_at,
        "live": sa.func.coalesce(live == releases.c.id, sa.false()),
    }
    # Keys in the response model's order, as `Shape` gives them.
    pairs = [part for name in _SUMMARY_FIELDS for part in (sa.literal_column(f"'{name}'"), values[name])]
    entry = sa.func.json_build_object(*pairs)
    by_environment = sa.func.json_object_agg(latest.c.environment, entry).aggregate_order_by(latest.c.environment)
    return sa.select(by_environment).select_from(latest).correlate(releases).scalar_subquery().label("deployments")


def summary_from_json(found: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """The summary a `summary_column` read, as the API shows it (its timestamps instants again)."""
    return {environment: _with_instants(entry) for environment, entry in (found or {}).items()}


def _with_instants(entry: dict[str, Any]) -> dict[str, Any]:
    for name in _SUMMARY_TIMESTAMPS:
        if entry[name] is not None:
            entry[name] = datetime.fromisoformat(entry[name]).astimezone(UTC)
    return entry


def release_summary(conn: sa.Connection, *, release_id: uuid.UUID) -> dict[str, Any]:
    """Per environment: this release's latest deployment there and whether it is live now (one query)."""
    return summary_from_json(conn.scalar(sa.select(summary_column()).where(releases.c.id == release_id)))


def live_release_ids(environment: str) -> sa.Select[Any]:
    """Ids of the release live in `environment` for every application (its latest success there)."""
    return (
        sa.select(deployments.c.release_id)
        .where(deployments.c.environment == environment, deployments.c.status == "succeeded")
        .ext(distinct_on(deployments.c.application))
        .order_by(deployments.c.application, deployments.c.finished_at.desc())
    )


def live_there(application: str, environment: str, column: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """`column` of the application's latest success in the environment: what is live there."""
    return (
        sa.select(column)
        .where(
            deployments.c.application == application,
            deployments.c.environment == environment,
            deployments.c.status == "succeeded",
        )
        .order_by(deployments.c.finished_at.desc())
        .limit(1)
    )
