"""Rollback: back to the last good release in an environment, without approvals, even in a freeze
(but not past a lock, unless an admin overrides it)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.audit import service as audit
from shared.auth import roles
from shared.auth.people import names_of
from shared.auth.principal import Principal
from shared.deployments import holds, rules
from shared.deployments.environments import environment_row
from shared.deployments.gates import gates_failed
from shared.deployments.locks import load_locks
from shared.deployments.records import insert_deployment, public_deployment
from shared.deployments.schemas import RollbackIn
from shared.deployments.service import require_override
from shared.deployments.tables import deployments
from shared.errors import Conflict
from shared.platform.work import UnitOfWork
from shared.releases.service import changed, load_release
from shared.releases.tables import releases


def rollback(work: UnitOfWork, *, caller: Principal, request: RollbackIn, failed: Any = None) -> dict[str, Any]:
    """Redeploy the last release that succeeded here before the live one (no approvals, freezes allowed),
    by a release manager of the application there; after the `failed` deploy (a row), the last good
    one: what was live before it."""
    application, environment = request.application, request.environment
    environment_row(work.conn, environment, lock="share")  # a lock made now waits, or is seen
    roles.require(caller.grants, "release_manager", application=application, environment=environment)
    locks = load_locks(work.conn, now=work.now, environment=environment)
    holding = holds.active_locks(locks, environment, work.now, application)
    if request.override_lock:
        require_override(caller.grants, holding, application=application, environment=environment, what="lock")
    elif holding:
        raise gates_failed([rules.locked(environment, holding)])
    history = _history(work.conn, application, environment)
    if failed is not None:  # back to what was live before it (a failed deploy never went live)
        good = rules.last_good(history)
        chosen = (failed, good) if good is not None else None
    else:
        chosen = rules.rollback_target(history)
    if chosen is None:
        raise Conflict(
            f"{application} has no earlier good release in {environment} to roll back to.", code="no_rollback_target"
        )
    live, target = chosen
    release = load_release(work.conn, target.release_id)
    row = insert_deployment(
        work,
        release=release,
        environment=environment,
        kind="rollback",
        status="queued",
        actor=caller.actor,
        reason=request.reason,
        replaces_id=live.id,
        overridden_locks=[lock.id for lock in holding] if request.override_lock else [],
    )
    audit.record(
        work,
        actor=caller.actor,
        action="deployment.rollback_requested",
        entity_type="deployment",
        entity_id=row.id,
        data={
            "application": application,
            "environment": environment,
            "to_release": str(release.id),
            "replaces": str(live.id),
            "reason": request.reason,
            "lock_overridden": [lock.reason for lock in holding] if request.override_lock else [],
        },
    )
    changed(work, release.id, live.release_id)
    return public_deployment(row, names=names_of(work.conn, [row.requested_by]))  # no approvals yet


def _history(conn: sa.Connection, application: str, environment: str) -> list[rules.PastDeployment]:
    """The application's succeeded deployments in the environment, newest first (the last 200)."""
    query = (
        sa.select(
            deployments.c.id,
            deployments.c.release_id,
            deployments.c.finished_at,
            releases.c.status.label("release_status"),
        )
        .join(releases, releases.c.id == deployments.c.release_id)
        .where(
            deployments.c.application == application,
            deployments.c.environment == environment,
            deployments.c.status == "succeeded",
        )
        .order_by(deployments.c.finished_at.desc())
        .limit(200)
        # FOR SHARE on the releases: one being cancelled now is seen cancelled, never picked.
        .with_for_update(read=True, of=releases)
    )
    return [
        rules.PastDeployment(
            id=r.id, release_id=r.release_id, release_status=r.release_status, finished_at=r.finished_at
        )
        for r in conn.execute(query)
    ]
