"""Read models over deployments that other parts (release reads and lists) use."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on

from shared.deployments.tables import deployments

_LIVE = sa.text(
    """
    WITH latest AS (
        SELECT DISTINCT ON (environment) environment, id, kind, status, created_at, finished_at
        FROM deployments WHERE release_id = :release_id
        ORDER BY environment, created_at DESC
    ), live AS (
        SELECT DISTINCT ON (environment) environment, release_id
        FROM deployments WHERE application = :application AND status = 'succeeded'
        ORDER BY environment, finished_at DESC
    )
    SELECT latest.*, live.release_id = :release_id AS live
    FROM latest LEFT JOIN live USING (environment)
    """
)


def release_summary(conn: sa.Connection, *, release_id: uuid.UUID, application: str) -> dict[str, Any]:
    """Per environment: this release's latest deployment there and whether it is live now (one query)."""
    return {
        row.environment: {
            "deployment_id": row.id,
            "kind": row.kind,
            "status": row.status,
            "created_at": row.created_at,
            "finished_at": row.finished_at,
            "live": bool(row.live),
        }
        for row in conn.execute(_LIVE, {"release_id": release_id, "application": application})
    }


def live_release_ids(environment: str) -> sa.Select[Any]:
    """Ids of the release live in `environment` for every application (its latest success there)."""
    return (
        sa.select(deployments.c.release_id)
        .where(deployments.c.environment == environment, deployments.c.status == "succeeded")
        .ext(distinct_on(deployments.c.application))
        .order_by(deployments.c.application, deployments.c.finished_at.desc())
    )
