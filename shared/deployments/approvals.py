"""Approvals: a decision by someone who neither wrote the release nor asked for the deployment."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared.audit import service as audit
from shared.auth import roles
from shared.auth.principal import Principal
from shared.deployments import approval_rules, expiry, rules
from shared.deployments.environments import environment_row
from shared.deployments.gates import check_move, release_authors, requirement_at
from shared.deployments.records import get_deployment, with_decisions
from shared.deployments.schemas import ApprovalIn
from shared.deployments.tables import approvals, deployments
from shared.errors import Conflict
from shared.platform.db import UnitOfWork, savepoint
from shared.releases.service import changed, load_release


def decide(
    work: UnitOfWork, *, release_id: uuid.UUID, deployment_id: uuid.UUID, caller: Principal, approval: ApprovalIn
) -> dict[str, Any]:
    """An approval or rejection by a release manager of the application there (a member of the stage's
    approver team, where it names one) who neither created, edited nor finalized the release, nor
    requested the deployment: so every recorded approval counts. The environment's policy applies on
    top of the stage (its minimum of approvals, its approver team). The approval that queues it re-checks
    the gates (409 changes nothing)."""
    release = load_release(work.conn, release_id, lock="share")  # a release can't be cancelled under us
    row = get_deployment(work, release_id=release_id, deployment_id=deployment_id, lock=True)
    roles.require(caller.grants, "release_manager", application=release.application, environment=row.environment)
    needed = requirement_at(work.conn, release.application, environment_row(work.conn, row.environment))
    approval_rules.require_approver_teams(
        needed.approver_teams, caller.teams, application=release.application, environment=row.environment
    )
    authors = release_authors(work.conn, release)
    approval_rules.require_four_eyes(caller.actor, authors=authors, requested_by=str(row.requested_by))
    expiry.refuse_if_stale(work, row)
    approval_rules.require_pending_approval(row.status)
    approval_id = _insert(work, deployment_id=row.id, actor=caller.actor, approval=approval)
    new_status = _move(work, row=row, release=release, decision=approval.decision, required=needed.required_approvals)
    audit.record(
        work,
        actor=caller.actor,
        action=f"deployment.{approval.decision}d",
        entity_type="deployment",
        entity_id=row.id,
        data={"comment": approval.comment, "status": new_status},
    )
    changed(work, row.release_id)
    deployment = with_decisions(work.conn, [get_deployment(work, release_id=release_id, deployment_id=deployment_id)])
    mine: dict[str, Any] = next(a for a in deployment[0]["approvals"] if a["id"] == approval_id)
    return mine | {"deployment": deployment[0]}


def _insert(work: UnitOfWork, *, deployment_id: uuid.UUID, actor: str, approval: ApprovalIn) -> uuid.UUID:
    """Record the decision (one per person and deployment: 409 `already_decided`); its id."""
    approval_id = uuid.uuid4()
    with savepoint(
        work.conn, taken=lambda: Conflict("You have already decided on this deployment.", code="already_decided")
    ):
        work.conn.execute(
            sa.insert(approvals).values(
                id=approval_id,
                deployment_id=deployment_id,
                user_id=uuid.UUID(actor),
                decision=approval.decision,
                comment=approval.comment,
                created_at=work.now,
            )
        )
    return approval_id


def _move(work: UnitOfWork, *, row: Any, release: Any, decision: rules.Decision, required: int) -> str:
    """The deployment's status after the decision, stored (the gates checked again when it moves)."""
    approved = work.conn.scalar(
        sa.select(sa.func.count())
        .select_from(approvals)
        .where(approvals.c.deployment_id == row.id, approvals.c.decision == "approve")
    )
    new_status = approval_rules.status_after_decision(
        current=row.status, decision=decision, approvals=int(approved or 0), required=required
    )
    values: dict[str, Any] = {"updated_at": work.now}  # a decision moves it: its expiry starts again
    if new_status != row.status:
        check_move(work, deployment=row, release=release, to_status=new_status)
        values["status"] = new_status
        if new_status == "rejected":
            values["finished_at"] = work.now
    work.conn.execute(sa.update(deployments).where(deployments.c.id == row.id).values(**values))
    return new_status
