"""The organisation's change timeline: every deployment (requested, decided, started, ended), rollback,
lock, freeze, environment policy change and deploy around the gates (drift) in a time window,
across applications, newest first, read from the audit log ("what changed in production between
14:00 and 15:00"). Reading is as for every list of this API: organisation-wide for every caller
(each holds the viewer baseline); `team` narrows it to the applications a team holds a binding on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from shared.audit.tables import audit_events
from shared.auth.people import names_of
from shared.deployments import rules
from shared.deployments.matrix import bound_to_team
from shared.deployments.read_models import TimelineQuery
from shared.deployments.tables import deployments
from shared.pagination import Keyset, Position, keyset_page
from shared.platform.work import UnitOfWork

DEFAULT_WINDOW = timedelta(hours=24)
# What the timeline shows of the audit log: the actions that change what runs where.
ACTIONS = {
    "deployment": (
        "deployment.requested",
        "deployment.approved",
        "deployment.rejected",
        "deployment.status_changed",
        "deployment.cancelled",
        "deployment.expired",
        "deployment.rolled_back",
        "deployment.rollback_requested",
        "deployment.auto_rollback_refused",
    ),
    "lock": ("environment.locked", "environment.unlocked"),
    "freeze": ("freeze.created", "freeze.deleted"),
    "environment": ("environment.created", "environment.updated"),
    "drift": ("drift.detected",),
}
_NEWEST_FIRST = Keyset((audit_events.c.seq,), (Position,), descending=True)


def timeline(work: UnitOfWork, query: TimelineQuery) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the window's entries, newest first."""
    end = query.to or work.now
    start = query.from_ or end - DEFAULT_WINDOW
    application = sa.func.coalesce(deployments.c.application, audit_events.c.data["application"].astext)
    environment = sa.func.coalesce(
        deployments.c.environment,
        audit_events.c.data["environment"].astext,
        sa.case((audit_events.c.entity_type == "environment", audit_events.c.entity_id)),
    )
    chosen = (
        sa.select(
            audit_events.c.seq,
            audit_events.c.occurred_at,
            audit_events.c.action,
            audit_events.c.entity_type,
            audit_events.c.actor,
            audit_events.c.data,
            application.label("application"),
            environment.label("environment"),
            deployments.c.kind,
            deployments.c.version,
            deployments.c.id.label("deployment_id"),
            deployments.c.release_id,
        )
        .select_from(
            audit_events.outerjoin(
                deployments,
                # CASE: only a deployment's entity id is cast (an environment's is its name).
                deployments.c.id
                == sa.case(
                    (
                        audit_events.c.entity_type == "deployment",
                        sa.cast(audit_events.c.entity_id, deployments.c.id.type),
                    )
                ),
            )
        )
        .where(
            audit_events.c.occurred_at >= start,
            audit_events.c.occurred_at < end,
            sa.or_(
                *(
                    sa.and_(audit_events.c.entity_type == kind, audit_events.c.action.in_(actions))
                    for kind, actions in ACTIONS.items()
                )
            ),
        )
    )
    if query.environment is not None:
        chosen = chosen.where(environment == query.environment)
    if query.application is not None:
        chosen = chosen.where(application == query.application)
    if query.team is not None:
        chosen = chosen.where(bound_to_team(query.team, application))
    rows, cursor = keyset_page(work.conn, chosen, _NEWEST_FIRST, limit=query.limit, cursor=query.cursor)
    names = names_of(work.conn, {row.actor for row in rows})
    return [_entry(row, names) for row in rows], cursor


def _entry(row: Any, names: dict[str, str]) -> dict[str, Any]:
    kind: str = {"lock": "lock", "freeze": "freeze", "environment": "policy", "drift": "drift"}.get(
        row.entity_type, "deployment"
    )
    if kind == "deployment" and row.kind == "rollback":
        kind = "rollback"
    return {
        "seq": row.seq,
        "occurred_at": row.occurred_at,
        "kind": kind,
        "action": row.action,
        "actor": row.actor,
        "actor_name": names.get(row.actor) or rules.RULE_NAMES.get(row.actor.removeprefix(rules.RULE_ACTOR)),
        "application": row.application,
        "environment": row.environment,
        "version": row.version,
        "deployment_id": row.deployment_id,
        "release_id": row.release_id,
        "data": row.data,
    }
