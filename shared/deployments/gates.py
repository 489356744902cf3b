"""The gates: what they read about a release and an environment, and the answers they give."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from shared.applications import rules as paths
from shared.audit.tables import audit_events
from shared.deployments import approval_rules, compare, rules
from shared.deployments.environments import (
    environment_row,
    policies,
    policy_of,
    promotion_path,
    public_policy,
    windows_of,
)
from shared.deployments.freezes import load_freezes
from shared.deployments.locks import load_locks
from shared.deployments.queries import live_there
from shared.deployments.schemas import BlockerOut
from shared.deployments.tables import deployments
from shared.errors import Conflict, FieldError, Invalid
from shared.models import Shape
from shared.platform.work import UnitOfWork
from shared.releases.service import load_release

public_blocker = Shape(BlockerOut)


def stage_of(conn: sa.Connection, application: str, environment: str) -> tuple[paths.Stage, paths.Stage | None]:
    """The stage for `environment` on `application`'s path and the one before it; 422
    `environment_not_on_path` when its path does not go there."""
    return paths.locate(promotion_path(conn, application), environment, application=application)


def requirement_at(conn: sa.Connection, application: str, environment: Any) -> paths.Requirement:
    """What an approval of `application` in `environment` (its row) needs: the stage and the policy."""
    stage, _ = stage_of(conn, application, environment.name)
    return paths.requirement(stage, policy_of(environment))


def gate_facts(
    work: UnitOfWork,
    *,
    release: Any,
    environment: Any,
    override_freeze: bool = False,
    override_lock: bool = False,
    skip: Sequence[str] = (),
) -> rules.GateFacts:
    """Read what the gates need about deploying `release` to `environment`, along its application's path
    (less the stages in `skip`: the hotfix lane), with the environment policies over it."""
    conn = work.conn
    stage, previous, skipping, skipped = _along_path(conn, release.application, environment.name, skip)
    needed = paths.requirement(stage, policy_of(environment))
    live_since = None
    if previous is not None:
        live_since = conn.scalar(
            sa.select(sa.func.max(deployments.c.finished_at)).where(
                deployments.c.release_id == release.id,
                deployments.c.environment == previous.environment,
                deployments.c.status == "succeeded",
            )
        )
    active, stale = _under_way(work, release.application, environment)
    return rules.GateFacts(
        release_status=release.status,
        release_kind=release.kind,
        environment=environment.name,
        application=release.application,
        required_approvals=needed.required_approvals,
        approver_teams=needed.approver_teams,
        approval_rules=needed.rules,
        skipped_by_policy=skipped,
        skipping=skipping,
        version=release.version,
        live_version=_live_version(conn, release.application, environment.name),
        allow_older=stage.allow_older,
        windows=windows_of(environment),
        previous_environment=previous.environment if previous is not None else None,
        previous_soak_minutes=previous.soak_minutes if previous is not None else 0,
        live_in_previous_since=live_since,
        freezes=load_freezes(conn, now=work.now),
        locks=load_locks(conn, now=work.now, environment=environment.name),
        override_lock=override_lock,
        active_deployment=active is not None and not stale,
        under_way=active,
        stale_deployment=active.id if active is not None and stale else None,
        override_freeze=override_freeze,
    )


def _along_path(
    conn: sa.Connection, application: str, environment: str, skip: Sequence[str]
) -> tuple[paths.Stage, paths.Stage | None, tuple[paths.Stage, ...], tuple[str, ...]]:
    """The stage for `environment` on the application's path, the one before it once `skip` is left
    out, the stages skipped, and the environments the path itself skips though a policy says none may;
    422 `skip_not_allowed` for a stage that may not be skipped."""
    path, every_policy = promotion_path(conn, application), policies(conn)
    stage, previous = paths.locate_skipping(path, environment, skip, application=application)
    refusals = paths.skip_refusals(path, environment, skip, every_policy)
    if refusals:
        raise Invalid(
            "These stages may not be skipped: " + "; ".join(e.message for e in refusals) + ".",
            code="skip_not_allowed",
            errors=refusals,
        )
    skipping = tuple(s for s in path if s.environment in skip)
    skipped = tuple(p.environment for p in paths.skipped(path, environment, every_policy))
    return stage, previous, skipping, skipped


def _live_version(conn: sa.Connection, application: str, environment: str) -> str | None:
    """The version of the application's latest success in the environment (None: nothing live)."""
    version: str | None = conn.scalar(live_there(application, environment, deployments.c.version))
    return version


def _under_way(work: UnitOfWork, application: str, environment: Any) -> tuple[Any, bool]:
    """The deployment under way there (at most one: a unique index holds it), and whether nobody
    moved it in time (then it no longer counts, and expires when a request takes its slot)."""
    active = work.conn.execute(
        sa.select(
            deployments.c.id,
            deployments.c.release_id,
            deployments.c.version,
            deployments.c.status,
            deployments.c.updated_at,
        ).where(
            deployments.c.application == application,
            deployments.c.environment == environment.name,
            deployments.c.status.in_(rules.ACTIVE),
        )
    ).first()
    stale = active is not None and rules.is_stale(
        active.status, active.updated_at, work.now, expire_after_hours=environment.expire_after_hours
    )
    return active, stale


def preflight(work: UnitOfWork, *, release_id: uuid.UUID, environment: str, skip: Sequence[str] = ()) -> dict[str, Any]:
    """Every gate that would block a deployment now (skipping the stages in `skip`); nothing is written."""
    release = load_release(work.conn, release_id)
    target = environment_row(work.conn, environment)
    facts = gate_facts(work, release=release, environment=target, skip=skip)
    blocking = rules.blockers(facts, work.now)
    return {
        "allowed": not blocking,
        "needs_approval": facts.required_approvals > 0,
        "required_approvals": facts.required_approvals,
        "approver_teams": list(facts.approver_teams),
        "approval_rules": [dataclasses.asdict(rule) for rule in facts.approval_rules],
        # Shown once an admin has set it (deploy windows and expiry included), or where it sets a floor.
        "policy": public_policy(target) if target.policy_updated_at or policy_of(target).sets_anything else None,
        "blocking": [public_blocker(b) for b in blocking],
        "changes": compare.summary(
            work.conn, application=release.application, environment=environment, version=release.version
        ),
    }


def gates_failed(blocking: list[rules.Blocker]) -> Conflict:
    """The 409 for failed gates: the first one's code, every one in `errors`."""
    return Conflict(
        blocking[0].detail,
        code=blocking[0].code,
        errors=[FieldError(None, b.detail, code=b.code, refers=b.refers) for b in blocking],
    )


def check_move(work: UnitOfWork, *, deployment: Any, release: Any, to_status: str) -> None:
    """409 with the first failed gate's code when moving `deployment` to `to_status` is no longer allowed."""
    blocking = move_blocking(work, deployment=deployment, release=release, to_status=to_status)
    if blocking:
        raise gates_failed(blocking)


def move_blocking(
    work: UnitOfWork, *, deployment: Any, release: Any, to_status: str, hold: bool = True
) -> list[rules.Blocker]:
    """The gates that hold moving `deployment` to `to_status` now (none for a move that starts no
    work). `hold`: read the environment FOR SHARE, as a move does (a page that only shows it does not)."""
    if not rules.starts_work(to_status):
        return []
    # FOR SHARE: a lock being made now (it holds the row FOR UPDATE) is seen, or waits for this move.
    held = environment_row(work.conn, deployment.environment, lock="share" if hold else None)
    facts = rules.MoveFacts(
        kind=deployment.kind,
        release_status=release.status,
        release_kind=release.kind,
        environment=deployment.environment,
        application=deployment.application,
        freezes=tuple(load_freezes(work.conn, now=work.now)),
        overridden=frozenset(deployment.overridden_freezes or ()),
        locks=tuple(load_locks(work.conn, now=work.now, environment=held.name)),
        overridden_locks=frozenset(deployment.overridden_locks or ()),
        windows=windows_of(held),
        starting=to_status == "in_progress",
    )
    return rules.move_blockers(facts, work.now)


def release_authors(conn: sa.Connection, release: Any) -> set[str]:
    """Who created, edited or finalized the release, as its audit log (append-only) records it."""
    return authors_of(conn, {release.id: release.created_by})[release.id]


def authors_of(conn: sa.Connection, created_by: dict[Any, Any]) -> dict[Any, set[str]]:
    """The authors of each release (`created_by`: release id -> its creator), in one query."""
    events = conn.execute(
        sa.select(audit_events.c.entity_id, audit_events.c.actor, audit_events.c.action)
        .where(
            audit_events.c.entity_type == "release",
            audit_events.c.entity_id.in_([str(i) for i in created_by]),
            audit_events.c.action.in_(approval_rules.AUTHORING_ACTIONS),
        )
        .distinct()
    )
    by_release: dict[str, list[tuple[str, str]]] = {str(i): [] for i in created_by}
    for event in events:
        by_release[event.entity_id].append((event.actor, event.action))
    return {i: approval_rules.release_authors(str(c), by_release[str(i)]) for i, c in created_by.items()}
