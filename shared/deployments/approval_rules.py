"""Approval rules as plain functions over plain data: who is an author of a release, who may decide,
and what a decision does to the deployment waiting for it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.applications.rules import ApprovalRule, Requirement
from shared.auth import roles
from shared.auth.principal import Principal
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


def status_after_decision(*, current: str, decision: str, met: bool) -> str:
    """After a decision on a deployment waiting for approval: one rejection rejects it; it is
    queued once every approval rule is met; until then it keeps waiting."""
    if decision == "reject":
        return "rejected"
    return "queued" if met else current


# -- approval rules: "1 from qa and 2 from sre" ----------------------------------------------------


@dataclass(frozen=True)
class Approver:
    """Someone who approved, and the groups they qualified for when they did (None: recorded before
    approvals had groups; such an approval counts for any rule)."""

    actor: str
    groups: frozenset[str] | None


def groups_of(teams: Iterable[str], role: str | None) -> frozenset[str]:
    """The groups a person qualifies for: each of their teams, and each role up to the one they hold
    on the application there."""
    held = {f"role:{r}" for r in roles.ORDER if role is not None and roles.at_least(role, r)}
    return frozenset({f"team:{team}" for team in teams} | held)


def qualifies(groups: frozenset[str] | None, rule: ApprovalRule) -> bool:
    return groups is None or rule.group == "any" or rule.group in groups


def assign(rules: Sequence[ApprovalRule], approvers: Sequence[Approver]) -> list[list[str]]:
    """Who counts for each rule, one person for one rule only, as many places filled as can be: a
    maximum matching of approvers to the rules' places (Kuhn's augmenting paths; a stage has at most
    a few dozen places). A person in qa and sre who approved first does not take sre's place from
    someone only in sre: the matching moves them to qa."""
    places = [index for index, rule in enumerate(rules) for _ in range(rule.count)]
    holder: list[int | None] = [None] * len(places)

    def place(who: int, seen: set[int]) -> bool:
        for spot, rule in enumerate(places):
            if spot in seen or not qualifies(approvers[who].groups, rules[rule]):
                continue
            seen.add(spot)
            taken = holder[spot]
            if taken is None or place(taken, seen):
                holder[spot] = who
                return True
        return False

    for each in range(len(approvers)):
        place(each, set())
    counted: list[list[int]] = [[] for _ in rules]
    for spot, filled_by in enumerate(holder):
        if filled_by is not None:
            counted[places[spot]].append(filled_by)
    return [[approvers[who].actor for who in sorted(group)] for group in counted]


def all_met(rules: Sequence[ApprovalRule], approvers: Sequence[Approver]) -> bool:
    return all(len(got) >= rule.count for rule, got in zip(rules, assign(rules, approvers), strict=True))


def progress(rules: Sequence[ApprovalRule], approvers: Sequence[Approver]) -> list[dict[str, Any]]:
    """Each rule with who counts for it and how many it still needs, as the API shows it."""
    return [
        {
            "count": rule.count,
            "team": rule.team,
            "role": rule.role,
            "approved_by": got,
            "remaining": rule.count - len(got),
        }
        for rule, got in zip(rules, assign(rules, approvers), strict=True)
    ]


def require_eligible(
    caller: Principal,
    *,
    application: str,
    environment: str,
    needed: Requirement,
    authors: set[str],
    requested_by: str,
) -> frozenset[str]:
    """May `caller` decide on a deployment of `application` in `environment`? A release manager there
    (403 `insufficient_role`), in the policy's approver team and the group of one of the rules (403
    `not_an_approver`), neither an author of the release nor its requester (403 `self_approval`).
    The groups the caller counts in."""
    where = {"application": application, "environment": environment}
    roles.require(caller.grants, "release_manager", **where)
    require_approver_teams(needed.approver_teams, caller.teams, **where)
    groups = groups_of(caller.teams, roles.role_on(caller.grants, **where))
    require_in_a_group(needed.rules, groups, environment=environment)
    require_four_eyes(caller.actor, authors=authors, requested_by=requested_by)
    return groups


def require_in_a_group(rules: Sequence[ApprovalRule], groups: frozenset[str], *, environment: str) -> None:
    """An approver qualifies for at least one rule (403 `not_an_approver` naming them)."""
    if rules and not any(qualifies(groups, rule) for rule in rules):
        raise Forbidden(
            f"Approvals in {environment} are {', '.join(r.describe() for r in rules)}; you are in none of those.",
            code="not_an_approver",
        )


def require_counts(rules: Sequence[ApprovalRule], before: Sequence[Approver], me: Approver) -> None:
    """An approval fills a place no one else fills (409 `approval_not_needed` when the rules it could
    count for are met): so every recorded approval counts for a rule."""
    filled = sum(len(got) for got in assign(rules, before))
    if sum(len(got) for got in assign(rules, [*before, me])) == filled:
        mine = [r.describe() for r in rules if qualifies(me.groups, r)]
        raise Conflict(
            f"The rules your approval could count for are met ({', '.join(mine)}); "
            "it waits for approvals from other groups.",
            code="approval_not_needed",
        )


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
