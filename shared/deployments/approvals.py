"""Approvals: a decision by someone who neither wrote the release nor asked for the deployment."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa

from shared.applications import rules as paths
from shared.applications import service as applications
from shared.applications.rules import Requirement
from shared.audit import service as audit
from shared.auth import roles
from shared.auth.principal import Principal
from shared.deployments import approval_rules, attestations, expiry, rules
from shared.deployments.environments import environment_row, path_of_catalogue, policy_of
from shared.deployments.gates import authors_of, check_move, release_authors, requirement_at
from shared.deployments.records import approver, approvers, get_deployment, with_decisions
from shared.deployments.schemas import ApprovalIn
from shared.deployments.tables import approvals, deployments
from shared.deployments.tables import environments as environment_table
from shared.errors import Conflict, DomainError
from shared.platform.db import savepoint
from shared.platform.work import UnitOfWork
from shared.releases.service import changed, load_release


def decide(
    work: UnitOfWork, *, release_id: uuid.UUID, deployment_id: uuid.UUID, caller: Principal, approval: ApprovalIn
) -> dict[str, Any]:
    """An approval or rejection by a release manager of the application there who qualifies for one of
    the approval rules (and is a member of the policy's approver team, where it names one), and who
    neither created, edited nor finalized the release, nor requested the deployment. An approval counts
    for one rule only and must fill a place (409 `approval_not_needed` otherwise): so every recorded
    approval counts. The rules are read now, the environment's policy on top of the stage. The approval
    that meets every rule queues the deployment and re-checks the gates (409 changes nothing)."""
    release = load_release(work.conn, release_id, lock="share")  # a release can't be cancelled under us
    row = get_deployment(work, release_id=release_id, deployment_id=deployment_id, lock=True)
    needed, me = eligibility(work, release=release, row=row, caller=caller)
    expiry.refuse_if_stale(work, row)
    approval_rules.require_pending_approval(row.status)
    decisions = work.conn.execute(
        sa.select(approvals).where(approvals.c.deployment_id == row.id).order_by(approvals.c.created_at)
    ).all()
    if any(str(d.user_id) == caller.actor for d in decisions):
        raise _already_decided()
    before = approvers(decisions)
    if approval.decision == "approve" and needed.rules:
        approval_rules.require_counts(needed.rules, before, me)
    approval_id = _insert(work, deployment_id=row.id, me=me, approval=approval)
    met = approval_rules.all_met(needed.rules, [*before, me])
    new_status = _move(work, row=row, release=release, decision=approval.decision, met=met, needed=needed)
    audit.record(
        work,
        actor=caller.actor,
        action=f"deployment.{approval.decision}d",
        entity_type="deployment",
        entity_id=row.id,
        data={"comment": approval.comment, "status": new_status, "qualified_for": sorted(me.groups or ())},
    )
    changed(work, row.release_id)
    deployment = with_decisions(work.conn, [get_deployment(work, release_id=release_id, deployment_id=deployment_id)])
    mine: dict[str, Any] = next(a for a in deployment[0]["approvals"] if a["id"] == approval_id)
    return mine | {"deployment": deployment[0]}


def eligibility(
    work: UnitOfWork, *, release: Any, row: Any, caller: Principal
) -> tuple[Requirement, approval_rules.Approver]:
    """May `caller` decide on the deployment `row` of `release`? A release manager of the application
    there (403 `insufficient_role`), in the policy's approver team and the group of one of the rules
    (403 `not_an_approver`), neither an author of the release nor its requester (403
    `self_approval`). What the decision needs, and the caller as an approver with their groups."""
    roles.require(caller.grants, "release_manager", application=release.application, environment=row.environment)
    needed = requirement_at(work.conn, release.application, environment_row(work.conn, row.environment))
    groups = approval_rules.require_eligible(
        caller,
        application=release.application,
        environment=row.environment,
        needed=needed,
        authors=release_authors(work.conn, release),
        requested_by=str(row.requested_by),
    )
    return needed, approval_rules.Approver(caller.actor, groups)


def refusals(
    work: UnitOfWork, waiting: list[dict[str, Any]], caller: Principal, *, created_by: dict[Any, Any]
) -> dict[str, DomainError | None]:
    """For each waiting deployment (as the API shows it), why `caller` may not approve it (None: they
    may), by deployment id: the checks of `decide` before it writes, in three queries for all of them
    (`approval_not_needed` alone still lets them reject).
    `created_by`: each release's creator, by release id (the caller has read the releases)."""
    if not waiting:
        return {}
    conn = work.conn
    authors = authors_of(conn, created_by)
    own = applications.own_paths(conn, sorted({d["application"] for d in waiting}))
    catalogue = conn.execute(sa.select(environment_table).order_by(environment_table.c.position)).all()
    default = path_of_catalogue(catalogue)
    policies = {row.name: policy_of(row) for row in catalogue}
    found: dict[str, DomainError | None] = {}
    for d in waiting:
        try:
            roles.require(caller.grants, "release_manager", application=d["application"], environment=d["environment"])
            stage, _ = paths.locate(own[d["application"]] or default, d["environment"], application=d["application"])
            needed = paths.requirement(stage, policies.get(d["environment"]))
            groups = approval_rules.require_eligible(
                caller,
                application=d["application"],
                environment=d["environment"],
                needed=needed,
                authors=authors[d["release_id"]],
                requested_by=str(d["requested_by"]),
            )
            if any(str(a["user_id"]) == caller.actor for a in d["approvals"]):
                raise _already_decided()
            if needed.rules:
                before = [
                    approver(a["user_id"], a["qualified_for"]) for a in d["approvals"] if a["decision"] == "approve"
                ]
                approval_rules.require_counts(needed.rules, before, approval_rules.Approver(caller.actor, groups))
            found[str(d["id"])] = None
        except DomainError as error:
            found[str(d["id"])] = error
    return found


def _already_decided() -> Conflict:
    return Conflict("You have already decided on this deployment.", code="already_decided")


def _insert(
    work: UnitOfWork, *, deployment_id: uuid.UUID, me: approval_rules.Approver, approval: ApprovalIn
) -> uuid.UUID:
    """Record the decision, with the groups its maker is in (one per person and deployment: 409
    `already_decided`, also when two of theirs race); its id."""
    approval_id = uuid.uuid4()
    with savepoint(work.conn, taken=_already_decided):
        work.conn.execute(
            sa.insert(approvals).values(
                id=approval_id,
                deployment_id=deployment_id,
                user_id=uuid.UUID(me.actor),
                decision=approval.decision,
                comment=approval.comment,
                qualified_for=sorted(me.groups or ()),
                created_at=work.now,
            )
        )
    return approval_id


def _move(work: UnitOfWork, *, row: Any, release: Any, decision: rules.Decision, met: bool, needed: Requirement) -> str:
    """The deployment's status after the decision, stored with the rules it was decided against (the
    gates checked again when it moves)."""
    new_status = approval_rules.status_after_decision(current=row.status, decision=decision, met=met)
    # A decision moves it: its expiry starts again.
    values: dict[str, Any] = {"updated_at": work.now, "approval_rules": [asdict(r) for r in needed.rules]}
    if new_status != row.status:
        check_move(work, deployment=row, release=release, to_status=new_status)
        values["status"] = new_status
        if new_status == "queued":  # it may run now: Binary Authorization's attestations of its images
            attestations.plan(
                work, deployment_id=row.id, environment=row.environment, artifacts=release.artifacts or ()
            )
        if new_status == "rejected":
            values["finished_at"] = work.now
    work.conn.execute(sa.update(deployments).where(deployments.c.id == row.id).values(**values))
    return new_status
