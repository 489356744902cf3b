"""Deployments a stage's rules request by themselves: auto-promotion (as soon as a release has soaked
in the stage before, or at a release train's departure) and, after a failure, the rollback request.

The scheduler's dispatch (`POST /releases/events/dispatch`, every minute) calls `promote_due`; a
report of a failure calls `roll_back_failure`. Each request goes through the gates a person's goes
through (`request_deployment`, `rollback`), with the rule as its requester (`rule:auto_promote`,
`rule:train`, `rule:auto_rollback`), so it is audited and evented the same way, and a stage that
needs approvals asks for them. A gate that refuses now (a freeze, a lock, a window) leaves the
promotion to a later dispatch, in its own savepoint: nothing else in the run is undone.

One request per release and stage: a release that has any deployment in the stage is never requested
there by a rule; two dispatchers at the same moment both try, and the partial unique indexes (one
deployment under way, one promotion per release and stage) let one insert: the other's savepoint
is refused and rolled back."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shared.applications import trains
from shared.audit import service as audit
from shared.auth import roles
from shared.auth.principal import Principal
from shared.deployments import rules
from shared.deployments.gates import stage_of
from shared.deployments.rollback import rollback
from shared.deployments.schemas import DeploymentIn, RollbackIn
from shared.deployments.service import request_deployment
from shared.errors import DomainError
from shared.platform.work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RulePrincipal(Principal):
    """A stage's rule acting as the caller: what it may do is one role, organisation-wide."""

    rule: str = "auto_promote"

    @property
    def actor(self) -> str:
        return rules.RULE_ACTOR + self.rule


def acting_as(rule: rules.Rule, role: str) -> RulePrincipal:
    return RulePrincipal(
        user_id=rules.AUTOMATION_ID, email=f"{rule}@rules", role=role, grants=(roles.Grant(role),), rule=rule
    )


# Per auto-promoting stage: the stage before it, and the release live there, when that release
# was deployed there (not rolled back to), saw no failure there since, is ready, has no deployment
# in this stage yet, and nothing is under way in this stage.
_CANDIDATES = sa.text(
    """
    SELECT s.application, s.environment, s.train_schedule, s.train_timezone,
           prev.environment AS previous, prev.soak_minutes,
           live.release_id, live.version, live.finished_at AS live_since
    FROM application_stages s
    CROSS JOIN LATERAL (
        SELECT p.environment, p.soak_minutes FROM application_stages p
        WHERE p.application = s.application AND p.position < s.position
        ORDER BY p.position DESC LIMIT 1
    ) prev
    CROSS JOIN LATERAL (
        SELECT d.release_id, d.version, d.kind, d.finished_at FROM deployments d
        WHERE d.application = s.application AND d.environment = prev.environment AND d.status = 'succeeded'
        ORDER BY d.finished_at DESC LIMIT 1
    ) live
    JOIN releases r ON r.id = live.release_id AND r.status = 'ready'
    WHERE s.auto_promote AND live.kind = 'deploy'
      AND NOT EXISTS (
        SELECT 1 FROM deployments f
        WHERE f.application = s.application AND f.environment = prev.environment
          AND f.status = 'failed' AND f.finished_at > live.finished_at)
      AND NOT EXISTS (
        SELECT 1 FROM deployments t WHERE t.release_id = live.release_id AND t.environment = s.environment)
      AND NOT EXISTS (
        SELECT 1 FROM deployments a
        WHERE a.application = s.application AND a.environment = s.environment
          AND a.status IN ('pending_approval', 'queued', 'in_progress'))  -- rules.ACTIVE
    ORDER BY s.application, s.position
    """
)


def promote_due(work: UnitOfWork) -> list[uuid.UUID]:
    """Request every promotion an auto-promoting stage is due now (in the unit's transaction, each in
    its own savepoint); the deployments requested."""
    requested: list[uuid.UUID] = []
    for due in work.conn.execute(_CANDIDATES).all():
        at = trains.promotion_time(
            live_since=due.live_since,
            soak_minutes=due.soak_minutes,
            schedule=due.train_schedule,
            timezone=due.train_timezone,
            now=work.now,
        )
        if at is None:
            continue
        made = _promote(work, due, rule="train" if due.train_schedule else "auto_promote", at=at)
        if made is not None:
            requested.append(made)
    return requested


def _promote(work: UnitOfWork, due: Any, *, rule: rules.Rule, at: Any) -> uuid.UUID | None:
    if rule == "train":
        why = f"The {due.train_schedule} ({due.train_timezone}) train of {at:%Y-%m-%d %H:%M} UTC"
    else:
        why = "Auto-promotion"
    reason = f"{why}: {due.version} succeeded in {due.previous} and soaked there."
    try:
        with work.savepoint():
            made = request_deployment(
                work,
                release_id=due.release_id,
                caller=acting_as(rule, "developer"),
                request=DeploymentIn(environment=due.environment, reason=reason),
            )
    except DomainError as refused:  # a gate holds it now, or another dispatcher was first: a later run
        log.info(
            "promotion not requested now",
            extra={"application": due.application, "environment": due.environment, "code": refused.code},
        )
        return None
    return uuid.UUID(str(made["id"]))


def roll_back_failure(work: UnitOfWork, failed: dict[str, Any]) -> uuid.UUID | None:
    """After a report (`failed`, the deployment as the API shows it): when it is a deploy that failed
    in a stage with `auto_rollback`, request the rollback to what was live before it there; a
    refusal (nothing to go back to, a lock) is audited on the failed deployment. The rollback's id."""
    if failed["status"] != "failed" or failed["kind"] != "deploy":
        return None
    application, environment = failed["application"], failed["environment"]
    try:
        stage, _ = stage_of(work.conn, application, environment)
    except DomainError:  # the path no longer goes there: no stage, no rule
        return None
    if not stage.auto_rollback:
        return None
    past = rules.PastDeployment(
        id=failed["id"], release_id=failed["release_id"], release_status="ready", finished_at=failed["finished_at"]
    )
    reason = f"{failed['version']} failed in {environment} (deployment {failed['id']})."
    caller = acting_as("auto_rollback", "release_manager")
    try:
        with work.savepoint():
            made = rollback(
                work,
                caller=caller,
                request=RollbackIn(application=application, environment=environment, reason=reason),
                failed=past,
            )
    except DomainError as refused:
        audit.record(
            work,
            actor=caller.actor,
            action="deployment.auto_rollback_refused",
            entity_type="deployment",
            entity_id=failed["id"],
            data={"code": refused.code, "detail": refused.detail},
        )
        return None
    return uuid.UUID(str(made["id"]))
