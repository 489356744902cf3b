"""Deployments: gates, status reports, approvals and rollback."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from shared import etags
from shared.audit import service as audit
from shared.audit.tables import audit_events
from shared.db import UNIQUE_VIOLATION, UnitOfWork, sqlstate
from shared.deployments import rules
from shared.deployments.freezes import load_freezes
from shared.deployments.tables import ACTIVE_STATUSES, approvals, deployments, environments
from shared.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from shared.pagination import Id, Timestamp, decode_cursor, page
from shared.releases.service import LISTS_NAMESPACE, item_namespace
from shared.releases.tables import releases


def public_deployment(row: Any, decisions: list[dict[str, Any]]) -> dict[str, Any]:
    """A deployment as the API shows it."""
    return {
        "id": row.id,
        "release_id": row.release_id,
        "application": row.application,
        "version": row.version,
        "environment": row.environment,
        "kind": row.kind,
        "status": row.status,
        "requested_by": row.requested_by,
        "reason": row.reason,
        "override_freeze": row.override_freeze,
        "replaces_id": row.replaces_id,
        "approvals": decisions,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "log_url": row.log_url,
        "message": row.message,
    }


def _decisions(conn: sa.Connection, deployment_ids: list[Any]) -> dict[Any, list[dict[str, Any]]]:
    """Approvals of several deployments in one query."""
    found: dict[Any, list[dict[str, Any]]] = {i: [] for i in deployment_ids}
    if deployment_ids:
        query = (
            sa.select(approvals).where(approvals.c.deployment_id.in_(deployment_ids)).order_by(approvals.c.created_at)
        )
        for row in conn.execute(query):
            found[row.deployment_id].append(
                {
                    "id": row.id,
                    "user_id": row.user_id,
                    "decision": row.decision,
                    "comment": row.comment,
                    "created_at": row.created_at,
                }
            )
    return found


def with_decisions(conn: sa.Connection, rows: list[Any]) -> list[dict[str, Any]]:
    decisions = _decisions(conn, [r.id for r in rows])
    return [public_deployment(r, decisions[r.id]) for r in rows]


def changed(work: UnitOfWork, *release_ids: Any) -> None:
    """Release reads show deployment summaries and lists filter by what is live: refresh both."""
    namespaces = [item_namespace(r) for r in release_ids] + [LISTS_NAMESPACE]
    work.after_commit(lambda: work.cache.invalidate(*namespaces))


def record(work: UnitOfWork, actor: str, action: str, entity_id: Any, data: dict[str, Any]) -> None:
    audit.record(
        work.conn, actor=actor, action=action, entity_type="deployment", entity_id=entity_id, data=data, now=work.now
    )


# -- gates ------------------------------------------------------------------------------------------


def environment_row(conn: sa.Connection, name: str) -> Any:
    row = conn.execute(sa.select(environments).where(environments.c.name == name)).first()
    if row is None:
        raise Invalid(
            f"There is no environment {name!r}.",
            code="unknown_environment",
            errors=[FieldError("environment", "unknown environment")],
        )
    return row


def release_row(conn: sa.Connection, release_id: uuid.UUID, *, lock: bool = False) -> Any:
    """The release; `lock` takes FOR SHARE, which a cancellation's FOR UPDATE waits for (and the other way round).

    Whatever moves a deployment locks its release first, then the deployment: one order, no deadlock."""
    query = sa.select(
        releases.c.id, releases.c.application, releases.c.version, releases.c.status, releases.c.created_by
    )
    row = conn.execute((query.with_for_update(read=True) if lock else query).where(releases.c.id == release_id)).first()
    if row is None:
        raise NotFound("No such release.", code="release_not_found")
    return row


def gate_facts(work: UnitOfWork, *, release: Any, environment: Any, override_freeze: bool = False) -> rules.GateFacts:
    """Read what the gates need about deploying `release` to `environment`."""
    conn = work.conn
    previous = conn.execute(
        sa.select(environments)
        .where(environments.c.position < environment.position)
        .order_by(environments.c.position.desc())
        .limit(1)
    ).first()
    live_since = None
    if previous is not None:
        live_since = conn.scalar(
            sa.select(sa.func.max(deployments.c.finished_at)).where(
                deployments.c.release_id == release.id,
                deployments.c.environment == previous.name,
                deployments.c.status == "succeeded",
            )
        )
    active = conn.scalar(
        sa.select(sa.func.count())
        .select_from(deployments)
        .where(
            deployments.c.application == release.application,
            deployments.c.environment == environment.name,
            deployments.c.status.in_(ACTIVE_STATUSES),
        )
    )
    return rules.GateFacts(
        release_status=release.status,
        environment=environment.name,
        required_approvals=environment.required_approvals,
        previous_environment=previous.name if previous is not None else None,
        previous_soak_minutes=previous.soak_minutes if previous is not None else 0,
        live_in_previous_since=live_since,
        freezes=load_freezes(conn, now=work.now),
        active_deployment=bool(active),
        override_freeze=override_freeze,
    )


def preflight(work: UnitOfWork, *, release_id: uuid.UUID, environment: str) -> dict[str, Any]:
    """Every gate that would block a deployment now; nothing is written."""
    facts = gate_facts(
        work, release=release_row(work.conn, release_id), environment=environment_row(work.conn, environment)
    )
    blocking = rules.blockers(facts, work.now)
    return {
        "allowed": not blocking,
        "needs_approval": facts.required_approvals > 0,
        "blocking": [{"code": b.code, "detail": b.detail} for b in blocking],
    }


def _gates_failed(blocking: list[rules.Blocker]) -> Conflict:
    return Conflict(
        blocking[0].detail,
        code=blocking[0].code,
        errors=[FieldError(None, b.detail, code=b.code) for b in blocking],
    )


def check_move(work: UnitOfWork, *, deployment: Any, release: Any, to_status: str) -> None:
    """409 with the first failed gate's code when moving `deployment` to `to_status` is no longer allowed."""
    if not rules.starts_work(to_status):
        return
    facts = rules.MoveFacts(
        kind=deployment.kind,
        release_status=release.status,
        environment=deployment.environment,
        freezes=tuple(load_freezes(work.conn, now=work.now)),
        override_freeze=deployment.override_freeze,
    )
    blocking = rules.move_blockers(facts, work.now)
    if blocking:
        raise _gates_failed(blocking)


def release_authors(conn: sa.Connection, release: Any) -> set[str]:
    """Who created, edited or finalized the release, as its audit log (append-only) records it."""
    events = conn.execute(
        sa.select(audit_events.c.actor, audit_events.c.action)
        .where(
            audit_events.c.entity_type == "release",
            audit_events.c.entity_id == str(release.id),
            audit_events.c.action.in_(rules.AUTHORING_ACTIONS),
        )
        .distinct()
    )
    return rules.release_authors(str(release.created_by), [(e.actor, e.action) for e in events])


def end_with_release(work: UnitOfWork, *, release_id: Any, actor: str, reason: str | None) -> dict[str, list[str]]:
    """The release is being cancelled (its row held FOR UPDATE): its deployments that have not
    started are cancelled with it, each audited; those already running are named, and left running."""
    rows = work.conn.execute(
        sa.select(deployments.c.id, deployments.c.status)
        .where(deployments.c.release_id == release_id, deployments.c.status.in_(ACTIVE_STATUSES))
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
            record(work, actor, "deployment.cancelled", r.id, {"from": r.status, "reason": reason})
        changed(work, release_id)
    return {
        "deployments_cancelled": [str(r.id) for r in ended],
        "deployments_left_running": [str(r.id) for r in rows if r.status not in rules.ENDED_BY_RELEASE_CANCEL],
    }


# -- deployments ------------------------------------------------------------------------------------


def request_deployment(
    work: UnitOfWork,
    *,
    release_id: uuid.UUID,
    environment: str,
    actor: str,
    actor_role: str,
    override_freeze: bool = False,
    reason: str | None = None,
) -> dict[str, Any]:
    """Deploy a ready release to an environment once every gate passes (all checked in this transaction)."""
    if override_freeze and actor_role != "admin":
        raise Forbidden("Only an admin may override a freeze.", code="freeze_override_forbidden")
    release = release_row(work.conn, release_id, lock=True)  # a release can't be cancelled under us
    target = environment_row(work.conn, environment)
    facts = gate_facts(work, release=release, environment=target, override_freeze=override_freeze)
    blocking = rules.blockers(facts, work.now)
    if blocking:
        raise _gates_failed(blocking)
    status = "pending_approval" if target.required_approvals > 0 else "queued"
    row = insert_deployment(
        work,
        release=release,
        environment=target.name,
        kind="deploy",
        status=status,
        actor=actor,
        reason=reason,
        override_freeze=override_freeze,
    )
    overridden = [f.reason for f in rules.active_freezes(facts.freezes, target.name, work.now)]
    record(
        work,
        actor,
        "deployment.requested",
        row.id,
        {
            "release_id": str(release.id),
            "environment": target.name,
            "status": status,
            "freeze_overridden": overridden,
            "reason": reason,
        },
    )
    changed(work, release.id)
    return public_deployment(row, [])


def insert_deployment(
    work: UnitOfWork, *, release: Any, environment: str, kind: str, status: str, actor: str, **extra: Any
) -> Any:
    values = {
        "id": uuid.uuid4(),
        "release_id": release.id,
        "application": release.application,
        "version": release.version,
        "environment": environment,
        "kind": kind,
        "status": status,
        "requested_by": uuid.UUID(actor),
        "created_at": work.now,
        "updated_at": work.now,
        **extra,
    }
    try:
        # The partial unique index decides races: of two concurrent requests, one inserts.
        with work.conn.begin_nested():
            return work.conn.execute(sa.insert(deployments).values(**values).returning(deployments)).one()
    except sa.exc.IntegrityError as error:
        if sqlstate(error) == UNIQUE_VIOLATION:
            blocker = rules.Blocker(
                "deployment_in_progress", f"Another deployment of {release.application} to {environment} is under way."
            )
            raise _gates_failed([blocker]) from None
        raise


def get_deployment(work: UnitOfWork, *, release_id: uuid.UUID, deployment_id: uuid.UUID, lock: bool = False) -> Any:
    query = sa.select(deployments).where(deployments.c.id == deployment_id, deployments.c.release_id == release_id)
    row = work.conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound("No such deployment of this release.", code="deployment_not_found")
    return row


def read_deployment(work: UnitOfWork, *, release_id: uuid.UUID, deployment_id: uuid.UUID) -> dict[str, Any]:
    """One deployment of a release, with its approvals."""
    return with_decisions(work.conn, [get_deployment(work, release_id=release_id, deployment_id=deployment_id)])[0]


def report_status(
    work: UnitOfWork,
    *,
    release_id: uuid.UUID,
    deployment_id: uuid.UUID,
    status: str,
    actor: str,
    log_url: str | None = None,
    message: str | None = None,
    if_match: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """A pipeline's progress report; timestamps are the server's. `queued → in_progress` re-checks the gates."""
    release = release_row(work.conn, release_id, lock=True)
    row = get_deployment(work, release_id=release_id, deployment_id=deployment_id, lock=True)
    if if_match is not None:
        etags.check(with_decisions(work.conn, [row])[0], if_match)
    previous = row.status
    new_status = rules.next_status(previous, status)
    check_move(work, deployment=row, release=release, to_status=new_status)
    values: dict[str, Any] = {"status": new_status, "updated_at": work.now}
    if new_status == "in_progress":
        values["started_at"] = work.now
    if new_status in rules.FINISHED:
        values["finished_at"] = work.now
    if log_url is not None:
        values["log_url"] = log_url
    if message is not None:
        values["message"] = message
    row = work.conn.execute(
        sa.update(deployments).where(deployments.c.id == row.id).values(**values).returning(deployments)
    ).one()
    touched = [row.release_id]
    if new_status == "succeeded" and row.kind == "rollback" and row.replaces_id is not None:
        replaced = work.conn.execute(
            sa.update(deployments)
            .where(deployments.c.id == row.replaces_id, deployments.c.status == "succeeded")
            .values(status="rolled_back", updated_at=work.now)
            .returning(deployments.c.id, deployments.c.release_id)
        ).first()
        if replaced is not None:
            touched.append(replaced.release_id)
            record(work, actor, "deployment.rolled_back", replaced.id, {"by": str(row.id)})
    record(work, actor, "deployment.status_changed", row.id, {"from": previous, "to": new_status, "message": message})
    changed(work, *touched)
    return with_decisions(work.conn, [row])[0]


def list_deployments(
    work: UnitOfWork,
    *,
    limit: int,
    cursor: str | None,
    release_id: uuid.UUID | None = None,
    application: str | None = None,
    environment: str | None = None,
    status: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Deployments, newest first, with their approvals (two queries per page)."""
    query = sa.select(deployments).order_by(deployments.c.created_at.desc(), deployments.c.id.desc()).limit(limit + 1)
    for column, value in (
        ("release_id", release_id),
        ("application", application),
        ("environment", environment),
        ("status", status),
    ):
        if value is not None:
            query = query.where(deployments.c[column] == value)
    if cursor:
        query = query.where(
            sa.tuple_(deployments.c.created_at, deployments.c.id) < decode_cursor(cursor, (Timestamp, Id))
        )
    rows, next_cursor = page(work.conn.execute(query).all(), limit, lambda r: [r.created_at.isoformat(), str(r.id)])
    return with_decisions(work.conn, rows), next_cursor


def ensure_release(work: UnitOfWork, release_id: uuid.UUID) -> None:
    release_row(work.conn, release_id)
