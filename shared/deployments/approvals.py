"""Approvals: a decision by someone who neither wrote the release nor asked for the deployment."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared.db import UNIQUE_VIOLATION, UnitOfWork, sqlstate
from shared.deployments import rules
from shared.deployments.service import (
    changed,
    check_move,
    get_deployment,
    record,
    release_authors,
    release_row,
    with_decisions,
)
from shared.deployments.tables import approvals, deployments, environments
from shared.errors import Conflict


def decide(
    work: UnitOfWork,
    *,
    release_id: uuid.UUID,
    deployment_id: uuid.UUID,
    actor: str,
    decision: str,
    comment: str,
) -> dict[str, Any]:
    """An approval or rejection by someone who neither created, edited nor finalized the release, nor
    requested the deployment; the approval that queues it re-checks the gates (409 changes nothing)."""
    release = release_row(work.conn, release_id, lock=True)  # a release can't be cancelled under us
    row = get_deployment(work, release_id=release_id, deployment_id=deployment_id, lock=True)
    rules.require_four_eyes(actor, authors=release_authors(work.conn, release), requested_by=str(row.requested_by))
    if row.status != "pending_approval":
        raise Conflict(f"The deployment is {row.status}, not waiting for approval.", code="not_pending_approval")
    approval_id = uuid.uuid4()
    try:
        with work.conn.begin_nested():
            work.conn.execute(
                sa.insert(approvals).values(
                    id=approval_id,
                    deployment_id=row.id,
                    user_id=uuid.UUID(actor),
                    decision=decision,
                    comment=comment,
                    created_at=work.now,
                )
            )
    except sa.exc.IntegrityError as error:
        if sqlstate(error) == UNIQUE_VIOLATION:
            raise Conflict("You have already decided on this deployment.", code="already_decided") from None
        raise
    approved = work.conn.scalar(
        sa.select(sa.func.count())
        .select_from(approvals)
        .where(approvals.c.deployment_id == row.id, approvals.c.decision == "approve")
    )
    required = work.conn.scalar(
        sa.select(environments.c.required_approvals).where(environments.c.name == row.environment)
    )
    enough = int(approved or 0) >= int(required or 0)
    new_status = "rejected" if decision == "reject" else ("queued" if enough else row.status)
    if new_status != row.status:
        check_move(work, deployment=row, release=release, to_status=new_status)
        values: dict[str, Any] = {"status": new_status, "updated_at": work.now}
        if new_status == "rejected":
            values["finished_at"] = work.now
        work.conn.execute(sa.update(deployments).where(deployments.c.id == row.id).values(**values))
    record(work, actor, f"deployment.{decision}d", row.id, {"comment": comment, "status": new_status})
    changed(work, row.release_id)
    deployment = with_decisions(work.conn, [get_deployment(work, release_id=release_id, deployment_id=deployment_id)])[
        0
    ]
    mine = next(a for a in deployment["approvals"] if a["id"] == approval_id)
    return mine | {"deployment": deployment}
