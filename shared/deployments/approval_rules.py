"""Approval rules as plain functions over plain data: who is an author of a release, who may decide,
and what a decision does to the deployment waiting for it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from shared.errors import Conflict, Forbidden

# -- four eyes --------------------------------------------------------------------------------------

# What makes someone an author of a release, as its audit log records it.
AUTHORING_ACTIONS = ("release.created", "release.updated", "release.finalized")


def release_authors(created_by: str, events: Iterable[tuple[str, str]]) -> set[str]:
    """Everyone who created, edited or finalized the release, from its `(actor, action)` audit events."""
    return {str(created_by)} | {actor for actor, action in events if action in AUTHORING_ACTIONS}


def require_pending_approval(status: str) -> None:
    """Only a deployment waiting for approval takes decisions (409 `not_pending_approval`)."""
    if status != "pending_approval":
        raise Conflict(f"The deployment is {status}, not waiting for approval.", code="not_pending_approval")


def status_after_decision(*, current: str, decision: str, approvals: int, required: int) -> str:
    """After a decision on a deployment waiting for approval: one rejection rejects it; it is
    queued once its approvals reach what the environment requires; until then it keeps waiting."""
    if decision == "reject":
        return "rejected"
    return "queued" if approvals >= required else current


def require_approver_teams(
    teams: Sequence[str], member_of: Iterable[str], *, application: str, environment: str
) -> None:
    """An approver is a member of every approver team the stage and the policy name (403 `not_an_approver`)."""
    missing = [team for team in teams if team not in set(member_of)]
    if missing:
        raise Forbidden(
            f"Approvals of {application} in {environment} are for members of the team "
            f"{' and of the team '.join(teams)}; you are not in {', '.join(missing)}.",
            code="not_an_approver",
        )


def require_four_eyes(actor: str, *, authors: set[str], requested_by: str) -> None:
    """An approver is neither an author of the release nor the deployment's requester (403 `self_approval`)."""
    if actor in authors or actor == str(requested_by):
        raise Forbidden(
            "Whoever created, edited or finalized the release, or requested the deployment, cannot decide on it.",
            code="self_approval",
        )
