"""Deployments: requests, a pipeline's status reports, and the end of those a cancelled release leaves.

The gates are in `gates`, the records (shown, loaded, listed) in `records`; the views reach
`preflight`, `list_deployments` and `ensure_release` through this module too."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from shared import etags
from shared.applications import rules as paths
from shared.audit import service as audit
from shared.auth import roles
from shared.auth.people import names_of
from shared.auth.principal import Principal
from shared.deployments import attestations, expiry, holds, rules
from shared.deployments.environments import environment_row
from shared.deployments.gates import check_move, gate_facts, gates_failed
from shared.deployments.gates import preflight as preflight
from shared.deployments.records import get_deployment, insert_deployment, public_deployment, with_decisions
from shared.deployments.records import list_deployments as list_deployments
from shared.deployments.schemas import DeploymentIn, StatusIn
from shared.deployments.tables import deployments
from shared.errors import Forbidden
from shared.platform.work import UnitOfWork
from shared.releases.service import changed, load_release
from shared.releases.service import ensure_release as ensure_release


def request_deployment(
    work: UnitOfWork,
    *,
    release_id: uuid.UUID,
    caller: Principal,
    request: DeploymentIn,
) -> dict[str, Any]:
    """Deploy a ready release to an environment once every gate passes (all checked in this transaction),
    by a developer of its application there (an override of a freeze or a lock: an admin there)."""
    grants, actor, reason = caller.grants, caller.actor, request.reason
    release = load_release(work.conn, release_id, lock="share")  # a release can't be cancelled under us
    target = environment_row(work.conn, request.environment, lock="share")  # a lock made now waits, or is seen
    roles.require(grants, "developer", application=release.application, environment=target.name)
    overrides = {"override_freeze": request.override_freeze, "override_lock": request.override_lock}
    facts = gate_facts(work, release=release, environment=target, skip=request.skip_stages, **overrides)
    freezes, locks = _what_it_overrides(grants, facts, request, application=release.application, now=work.now)
    blocking = rules.blockers(facts, work.now)
    if blocking:
        raise gates_failed(blocking)
    if facts.stale_deployment is not None:  # a forgotten one frees the slot, with this request
        expiry.expire_stale(work, deployment_id=facts.stale_deployment)
    status = rules.initial_status(facts.required_approvals)
    skipped = [stage.environment for stage in facts.skipping]
    row = insert_deployment(
        work,
        release=release,
        environment=target.name,
        kind="deploy",
        status=status,
        actor=actor,
        reason=reason,
        override_freeze=request.override_freeze,
        overridden_freezes=[f.id for f in freezes],
        overridden_locks=[lock.id for lock in locks],
        approval_rules=[dataclasses.asdict(rule) for rule in facts.approval_rules],
        skipped_stages=skipped,
    )
    audit.record(
        work,
        actor=actor,
        action="deployment.requested",
        entity_type="deployment",
        entity_id=row.id,
        data={
            "release_id": str(release.id),
            "environment": target.name,
            "status": status,
            "freeze_overridden": [f.reason for f in freezes],
            "lock_overridden": [lock.reason for lock in locks],
            "skipped_stages": skipped,
            "reason": reason,
        },
    )
    changed(work, release.id)
    return public_deployment(row, names=names_of(work.conn, [row.requested_by]))  # no approvals yet


def _what_it_overrides(
    grants: Iterable[roles.Grant], facts: rules.GateFacts, request: DeploymentIn, *, application: str, now: datetime
) -> tuple[list[holds.Freeze], list[holds.Lock]]:
    """The freezes and locks the request overrides (none unless it says so), once the caller is found
    to hold what skipping its stages and overriding them takes (403 otherwise)."""
    environment = facts.environment
    require_skip(grants, facts.skipping, application=application, environment=environment)
    freezes: list[holds.Freeze] = []
    locks: list[holds.Lock] = []
    if request.override_freeze:
        freezes = rules.holding_freezes(facts.freezes, environment, now, application, facts.release_kind)
        require_override(grants, freezes, application=application, environment=environment)
    if request.override_lock:
        locks = holds.active_locks(facts.locks, environment, now, application)
        require_override(grants, locks, application=application, environment=environment, what="lock")
    return freezes, locks


def require_skip(
    grants: Iterable[roles.Grant], skipping: Iterable[paths.Stage], *, application: str, environment: str
) -> None:
    """403 `skip_forbidden` unless the caller holds, where the release goes, the role each skipped
    stage names in its `skippable_by`."""
    held = roles.role_on(grants, application=application, environment=environment)
    for stage in skipping:
        needed = stage.skippable_by or "admin"
        if held is None or not roles.at_least(held, needed):
            raise Forbidden(
                f"Skipping {stage.environment} on the way to {environment} is for those holding {needed} on "
                f"{application} there; you have {held or 'no role'}.",
                code="skip_forbidden",
            )


def require_override(
    grants: Iterable[roles.Grant],
    covering: Sequence[holds.Freeze] | Sequence[holds.Lock],
    *,
    application: str,
    environment: str,
    what: Literal["freeze", "lock"] = "freeze",
) -> None:
    """403 `freeze_override_forbidden` (`lock_override_forbidden`) unless the caller is an admin over
    every freeze window (lock) it would override: of the organisation where one covers every
    application, else of the application."""
    for scope in holds.override_scopes(covering, application):
        held = roles.role_on(grants, application=scope, environment=environment)
        if held is None or not roles.at_least(held, "admin"):
            whose = (
                "the organisation's (it covers every application): only an organisation-wide admin"
                if scope is None
                else f"{application}'s: only an admin of {application}"
            )
            raise Forbidden(
                f"The {what} on {environment} is {whose} there may override it; you have {held or 'no role'}.",
                code=f"{what}_override_forbidden",
            )


def read_deployment(work: UnitOfWork, *, release_id: uuid.UUID | None, deployment_id: uuid.UUID) -> dict[str, Any]:
    """One deployment (of that release, unless `release_id` is None), with its approvals."""
    return with_decisions(work.conn, [get_deployment(work, release_id=release_id, deployment_id=deployment_id)])[0]


def report_status(
    work: UnitOfWork,
    *,
    release_id: uuid.UUID,
    deployment_id: uuid.UUID,
    caller: Principal,
    report: StatusIn,
    if_match: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """A pipeline's progress report, by a developer of the application there; timestamps are the
    server's. `queued → in_progress` re-checks the gates."""
    release = load_release(work.conn, release_id, lock="share")
    row = get_deployment(work, release_id=release_id, deployment_id=deployment_id, lock=True)
    roles.require(caller.grants, "developer", application=release.application, environment=row.environment)
    expiry.refuse_if_stale(work, row)
    if if_match is not None:
        etags.check(with_decisions(work.conn, [row])[0], if_match)
    previous = row.status
    new_status = rules.next_status(previous, report.status)
    check_move(work, deployment=row, release=release, to_status=new_status)
    if new_status == "in_progress":
        attestations.require_attested(work, row.id)
    values: dict[str, Any] = {"status": new_status, "updated_at": work.now}
    if new_status == "in_progress":
        values["started_at"] = work.now
    if new_status in rules.FINISHED:
        values["finished_at"] = work.now
    values |= report.model_dump(include={"log_url", "message"}, exclude_none=True)
    row = work.conn.execute(
        sa.update(deployments).where(deployments.c.id == row.id).values(**values).returning(deployments)
    ).one()
    touched = [row.release_id, *_replaced_by(work, row, new_status, actor=caller.actor)]
    audit.record(
        work,
        actor=caller.actor,
        action="deployment.status_changed",
        entity_type="deployment",
        entity_id=row.id,
        data={"from": previous, "to": new_status, "message": report.message},
    )
    changed(work, *touched)
    return public_deployment(row, names=names_of(work.conn, [row.requested_by]))  # no approvals yet


def _replaced_by(work: UnitOfWork, row: Any, new_status: str, *, actor: str) -> list[Any]:
    """A rollback that succeeded marks the deployment it replaced `rolled_back` (audited); the release
    ids whose summaries that changes."""
    replaced_id = rules.replaced_by_success(kind=row.kind, status=new_status, replaces_id=row.replaces_id)
    if replaced_id is None:
        return []
    replaced = work.conn.execute(
        sa.update(deployments)
        .where(deployments.c.id == replaced_id, deployments.c.status == "succeeded")
        .values(status="rolled_back", updated_at=work.now)
        .returning(deployments.c.id, deployments.c.release_id)
    ).first()
    if replaced is None:
        return []
    audit.record(
        work,
        actor=actor,
        action="deployment.rolled_back",
        entity_type="deployment",
        entity_id=replaced.id,
        data={"by": str(row.id)},
    )
    return [replaced.release_id]


def end_with_release(work: UnitOfWork, *, release_id: Any, actor: str, reason: str | None) -> dict[str, list[str]]:
    """The release is being cancelled (its row held FOR UPDATE): its deployments that have not
    started are cancelled with it, each audited; those already running are named, and left running."""
    rows = work.conn.execute(
        sa.select(deployments.c.id, deployments.c.status)
        .where(deployments.c.release_id == release_id, deployments.c.status.in_(rules.ACTIVE))
        .order_by(deployments.c.created_at)
        .with_for_update()
    ).all()
    ended = [r for r in rows if r.status in rules.ENDED_BY_RELEASE_CANCEL]
    if ended:
        work.conn.execute(
            sa.update(deployments)
            .where(deployments.c.id.in_([r.id for r in ended]))
            .values(
                status="cancelled",
                finished_at=work.now,
                updated_at=work.now,
                message=f"The release was cancelled: {reason}" if reason else "The release was cancelled.",
            )
        )
        for r in ended:
            audit.record(
                work,
                actor=actor,
                action="deployment.cancelled",
                entity_type="deployment",
                entity_id=r.id,
                data={"from": r.status, "reason": reason},
            )
        changed(work, release_id)
    return {
        "deployments_cancelled": [str(r.id) for r in ended],
        "deployments_left_running": [str(r.id) for r in rows if r.status not in rules.ENDED_BY_RELEASE_CANCEL],
    }
