"""What is live where: per environment, the live release of an application, the one before it
and any deployment under way (the query, the answer and the read)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.deployments import rules
from shared.deployments.read_models import OverviewEntryOut
from shared.deployments.tables import deployments, environments
from shared.models import Shape
from shared.platform.work import UnitOfWork
from shared.releases.tables import releases


def overview(work: UnitOfWork, *, application: str) -> dict[str, Any]:
    """Per environment: the live release, the one before it, and any deployment under way."""
    found: dict[str, Any] = {}
    envs = work.conn.execute(sa.select(environments.c.name).order_by(environments.c.position)).scalars().all()
    history = work.conn.execute(
        sa.select(
            deployments.c.id.label("deployment_id"),
            deployments.c.environment,
            deployments.c.status,
            deployments.c.kind,
            deployments.c.release_id,
            deployments.c.version,
            deployments.c.finished_at,
            deployments.c.created_at,
            releases.c.title,
        )
        .join(releases, releases.c.id == deployments.c.release_id)
        .where(deployments.c.application == application)
        .order_by(deployments.c.created_at.desc())
        .limit(500)
    ).all()
    for name in envs:
        rows = [r for r in history if r.environment == name]
        succeeded = sorted((r for r in rows if r.status == "succeeded"), key=lambda r: r.finished_at, reverse=True)
        live = succeeded[0] if succeeded else None
        previous = next((r for r in succeeded[1:] if live is None or r.release_id != live.release_id), None)
        under_way = next((r for r in rows if r.status in rules.ACTIVE), None)
        found[name] = {
            "live": _entry(live),
            "previous": _entry(previous),
            "in_progress": _entry(under_way),
        }
    return {"application": application, "environments": found}


_overview_entry = Shape(OverviewEntryOut)


def _entry(row: Any) -> dict[str, Any] | None:
    return _overview_entry(row) if row is not None else None
