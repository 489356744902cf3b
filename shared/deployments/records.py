"""Deployment records: as the API shows them, loaded, inserted and listed."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from shared.applications.rules import approval_rules_of
from shared.auth.people import describe_actor, names_of
from shared.auth.tables import users
from shared.deployments import approval_rules, attestations, compare, environments, gates, rules
from shared.deployments.schemas import ApprovalOut, DeploymentOut
from shared.deployments.tables import approvals, deployments
from shared.errors import DomainError, NotFound
from shared.events import outbox
from shared.models import Shape
from shared.pagination import Id, Keyset, Timestamp, keyset_page
from shared.platform.db import savepoint
from shared.platform.work import UnitOfWork
from shared.releases.service import describe_release

_deployment = Shape(DeploymentOut, given=("approvals", "approval_rules", "requested_by_name"))
public_approval = Shape(ApprovalOut)
NEWEST_FIRST = Keyset((deployments.c.created_at, deployments.c.id), (Timestamp, Id), descending=True)


def approver(user_id: Any, qualified_for: Sequence[str] | None) -> approval_rules.Approver:
    """One approver, with the groups they were in when they decided (None: decided before groups
    were kept; it counts for any rule)."""
    return approval_rules.Approver(str(user_id), frozenset(qualified_for) if qualified_for is not None else None)


def approvers(decisions: Iterable[Any]) -> list[approval_rules.Approver]:
    """Who approved, from approval rows, oldest first, with the groups each was in then."""
    return [approver(d.user_id, d.qualified_for) for d in decisions if d.decision == "approve"]


def public_deployment(row: Any, decisions: Sequence[Any] = (), *, names: dict[str, str]) -> dict[str, Any]:
    """A deployment as the API shows it, given its approval rows (oldest first, each with its
    approver's `user_name`) and people's names by id: each approval, and each approval rule with
    who counts for it."""
    progress = approval_rules.progress(approval_rules_of(row.approval_rules), approvers(decisions))
    return _deployment(
        row,
        approvals=[public_approval(d) for d in decisions],
        approval_rules=progress,
        requested_by_name=names.get(str(row.requested_by)) or rules.RULE_NAMES.get(row.requested_by_rule or ""),
    )


def with_decisions(conn: sa.Connection, rows: list[Any]) -> list[dict[str, Any]]:
    """The deployments as the API shows them, with their approvals and people's names (two queries
    for all)."""
    found: dict[Any, list[Any]] = {r.id: [] for r in rows}
    if found:
        query = (
            sa.select(approvals, sa.func.coalesce(users.c.display_name, users.c.email).label("user_name"))
            .outerjoin(users, users.c.id == approvals.c.user_id)
            .where(approvals.c.deployment_id.in_(list(found)))
            .order_by(approvals.c.created_at)
        )
        for row in conn.execute(query):
            found[row.deployment_id].append(row)
    names = names_of(conn, {r.requested_by for r in rows})
    return [public_deployment(r, found[r.id], names=names) for r in rows]


@outbox.describes("deployment")
def describe_deployment(conn: sa.Connection, deployment_id: str, data: Any, actor: str) -> dict[str, Any]:
    """A deployment's events carry it and its release as the API shows them; an approval request
    also says who may approve it and what it changes there (`changes`, as preflight's)."""
    row = conn.execute(sa.select(deployments).where(deployments.c.id == uuid.UUID(deployment_id))).first()
    if row is None:
        return {"actor": describe_actor(conn, actor)}
    found = describe_release(conn, str(row.release_id), data, actor)
    found |= {"deployment": with_decisions(conn, [row])[0], "application": row.application}
    found["environment"] = row.environment
    if row.status == "pending_approval":
        found["approvers"] = who_may_approve(conn, application=row.application, environment=row.environment)
        found["changes"] = compare.summary(
            conn, application=row.application, environment=row.environment, version=row.version
        )
    return found


def who_may_approve(conn: sa.Connection, *, application: str, environment: str) -> str:
    """Who may approve a deployment of `application` to `environment`, in words."""
    managers = f"release managers of {application} in {environment}"
    try:
        needed = gates.requirement_at(conn, application, environments.environment_row(conn, environment))
    except DomainError:
        return managers
    if needed.approver_teams:
        managers = f"members of the team {' and of the team '.join(needed.approver_teams)} who are {managers}"
    if any(rule.group != "any" for rule in needed.rules):
        return f"{managers}: {', '.join(rule.describe() for rule in needed.rules)}"
    return managers


def get_deployment(
    work: UnitOfWork, *, release_id: uuid.UUID | None, deployment_id: uuid.UUID, lock: bool = False
) -> Any:
    """The deployment's row (of that release, unless `release_id` is None), or 404 `deployment_not_found`."""
    query = sa.select(deployments).where(deployments.c.id == deployment_id)
    if release_id is not None:
        query = query.where(deployments.c.release_id == release_id)
    row = work.conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        of = " of this release" if release_id is not None else ""
        raise NotFound(f"No such deployment{of}.", code="deployment_not_found")
    return row


def requester(actor: str) -> dict[str, Any]:
    """Who a deployment's row says requested it: a person's or account's id, or a stage's rule
    (actor `rule:<rule>`, with the nil UUID as `requested_by`)."""
    if actor.startswith(rules.RULE_ACTOR):
        return {"requested_by": rules.AUTOMATION_ID, "requested_by_rule": actor.removeprefix(rules.RULE_ACTOR)}
    return {"requested_by": uuid.UUID(actor)}


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
        **requester(actor),
        "created_at": work.now,
        "updated_at": work.now,
        **extra,
    }

    # The partial unique index decides races: of two concurrent requests, one inserts; the other's
    # refusal names the winner (committed by then: the index waits for it).
    def taken() -> Exception:
        winner = work.conn.execute(
            sa.select(deployments.c.id, deployments.c.release_id, deployments.c.version, deployments.c.status).where(
                deployments.c.application == release.application,
                deployments.c.environment == environment,
                deployments.c.status.in_(rules.ACTIVE),
            )
        ).first()
        return gates.gates_failed([rules.deployment_in_progress(release.application, environment, winner)])

    with savepoint(work.conn, taken=taken):
        row = work.conn.execute(sa.insert(deployments).values(**values).returning(deployments)).one()
    if status == "queued":  # it may run now: Binary Authorization's attestations of its images
        attestations.plan(work, deployment_id=row.id, environment=environment, artifacts=release.artifacts or ())
    return row


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
    query = sa.select(deployments)
    for column, value in (
        ("release_id", release_id),
        ("application", application),
        ("environment", environment),
        ("status", status),
    ):
        if value is not None:
            query = query.where(deployments.c[column] == value)
    rows, next_cursor = keyset_page(work.conn, query, NEWEST_FIRST, limit=limit, cursor=cursor)
    return with_decisions(work.conn, rows), next_cursor
