"""Read models over deployments that the release catalogue (release reads and lists) uses."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on

from shared.deployments.schemas import DeploymentSummaryOut
from shared.deployments.tables import deployments
from shared.models import Shape

_LIVE = sa.text(
    """
    WITH latest AS (
        SELECT DISTINCT ON (environment) environment, id AS deployment_id, kind, status, created_at, finished_at
        FROM deployments WHERE release_id = :release_id
        ORDER BY environment, created_at DESC
    ), live AS (
        SELECT DISTINCT ON (environment) environment, release_id
        FROM deployments WHERE application = :application AND status = 'succeeded'
        ORDER BY environment, finished_at DESC
    )
    SELECT latest.*, COALESCE(live.release_id = :release_id, false) AS live
    FROM latest LEFT JOIN live USING (environment)
    """
)


_summary = Shape(DeploymentSummaryOut)


def release_summary(conn: sa.Connection, *, release_id: uuid.UUID, application: str) -> dict[str, Any]:
    """Per environment: this release's latest deployment there and whether it is live now (one query)."""
    return {
        row.environment: _summary(row)
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
