"""Request expiry: a deployment left `pending_approval` or `queued` for longer than its environment's
`expire_after_hours` ends as `expired`, so a forgotten request never blocks an environment for good.
Its approvals lapse with it (they belong to that deployment; a new request needs its own).

It happens where the slot matters: the scheduler's dispatch sweeps every environment; a new request
expires what blocks it, in its own transaction; a decision on, or a report of, a stale deployment
records its expiry and answers 409 `deployment_expired`."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared.audit import service as audit
from shared.deployments import rules
from shared.deployments.tables import deployments, environments
from shared.errors import Conflict
from shared.platform.work import UnitOfWork
from shared.releases.service import changed

SYSTEM_ACTOR = "system:expiry"


def expire_stale(
    work: UnitOfWork,
    *,
    application: str | None = None,
    environment: str | None = None,
    deployment_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """End as `expired` every waiting deployment (of `application` in `environment`, or this one) that
    nobody moved for its environment's time; each audited and evented. Rows another request holds
    now (a decision in progress: someone is moving it) are skipped. The ids expired."""
    moved_before = sa.literal(work.now) - sa.func.make_interval(0, 0, 0, 0, environments.c.expire_after_hours)
    query = (
        sa.select(deployments.c.id, deployments.c.release_id, deployments.c.status, environments.c.expire_after_hours)
        .join(environments, environments.c.name == deployments.c.environment)
        .where(deployments.c.status.in_(rules.EXPIRES), deployments.c.updated_at <= moved_before)
        .with_for_update(of=deployments, skip_locked=True)
    )
    for column, value in (("application", application), ("environment", environment), ("id", deployment_id)):
        if value is not None:
            query = query.where(deployments.c[column] == value)
    stale = work.conn.execute(query).all()
    for row in stale:
        work.conn.execute(
            sa.update(deployments)
            .where(deployments.c.id == row.id)
            .values(
                status="expired",
                finished_at=work.now,
                updated_at=work.now,
                message=f"Nobody moved it for {row.expire_after_hours} hours; it expired and freed the slot.",
            )
        )
        audit.record(
            work,
            actor=SYSTEM_ACTOR,
            action="deployment.expired",
            entity_type="deployment",
            entity_id=row.id,
            data={"from": row.status, "after_hours": row.expire_after_hours},
        )
    if stale:
        changed(work, *{row.release_id for row in stale})
    return [row.id for row in stale]


def refuse_if_stale(work: UnitOfWork, row: Any) -> None:
    """For a decision on, or a report of, the deployment `row` (held FOR UPDATE): when it has gone
    stale, record its expiry (committed, so the answer is true after it) and answer 409."""
    if row.status not in rules.EXPIRES or not expire_stale(work, deployment_id=row.id):
        return
    work.commit()
    raise Conflict(
        "The deployment waited too long without anyone moving it and has expired; request it again.",
        code="deployment_expired",
    )
