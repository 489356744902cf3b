"""Deployment rules as plain functions over plain data: gates, status moves, four eyes, rollback
(what holds an environment at a moment, freezes and locks, is in `holds`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from shared.applications.rules import ApprovalRule, Stage
from shared.deployments.holds import DeployWindows, Freeze, Lock, active_freezes, active_locks
from shared.errors import Conflict
from shared.releases.rules import parse_version

# -- enumerations (the tables' checks, the request and response models and the rules all use these) --

Status = Literal[
    "pending_approval",
    "queued",
    "in_progress",
    "succeeded",
    "failed",
    "rejected",
    "cancelled",
    "rolled_back",
    "expired",
]
STATUSES: tuple[Status, ...] = get_args(Status)
# Under way: at most one per application and environment (a partial unique index holds it).
ACTIVE: tuple[Status, ...] = ("pending_approval", "queued", "in_progress")
FINISHED: tuple[Status, ...] = ("succeeded", "failed", "rejected", "cancelled", "rolled_back", "expired")
# Waiting on a person or a pipeline: ends as `expired` once nobody moved it for its environment's time.
EXPIRES: tuple[Status, ...] = ("pending_approval", "queued")
# What a pipeline may report (`StatusIn`); `_MOVES` says from where.
Reported = Literal["in_progress", "succeeded", "failed", "cancelled"]
Kind = Literal["deploy", "rollback"]
KINDS: tuple[Kind, ...] = get_args(Kind)
Decision = Literal["approve", "reject"]
DECISIONS: tuple[Decision, ...] = get_args(Decision)
# The stage rules that request deployments by themselves (`requested_by_rule`), and in words.
Rule = Literal["auto_promote", "train", "auto_rollback"]
RULES: tuple[Rule, ...] = get_args(Rule)
RULE_ACTOR = "rule:"  # the audit's actor for a rule: `rule:auto_promote`
AUTOMATION_ID = uuid.UUID(int=0)
RULE_NAMES: dict[str, str] = {
    "auto_promote": "auto-promotion",
    "train": "release train",
    "auto_rollback": "auto-rollback",
}

# What a pipeline may report: only forward, and `cancelled` only before the deployment ends.
_MOVES = {
    "pending_approval": {"cancelled"},
    "queued": {"in_progress", "cancelled"},
    "in_progress": {"succeeded", "failed", "cancelled"},
}


def initial_status(required_approvals: int) -> Status:
    """A requested deployment waits for approval where the environment asks for any; else it is queued."""
    return "pending_approval" if required_approvals > 0 else "queued"


def is_stale(status: str, last_moved_at: datetime, now: datetime, *, expire_after_hours: int) -> bool:
    """Has a waiting deployment gone unmoved for its environment's `expire_after_hours` (then it expires)?"""
    return status in EXPIRES and now >= last_moved_at + timedelta(hours=expire_after_hours)


def next_status(current: str, requested: str) -> str:
    """`requested` if it is a legal move from `current`, else 409 `invalid_transition`."""
    if requested not in _MOVES.get(current, set()):
        raise Conflict(f"A deployment that is {current} cannot become {requested}.", code="invalid_transition")
    return requested


def replaced_by_success(*, kind: str, status: str, replaces_id: Any) -> Any:
    """The deployment a rollback that has just become `status` marks `rolled_back`: the one it
    replaces, once the rollback succeeds (None otherwise, and for a deploy). Only a replaced
    deployment still `succeeded` is marked; the caller's update says so."""
    if kind == "rollback" and status == "succeeded":
        return replaces_id
    return None


# -- gates ------------------------------------------------------------------------------------------


@dataclass
class GateFacts:
    """Everything the gates look at, read in one transaction."""

    release_status: str
    environment: str
    required_approvals: int
    # A `fix` passes the freezes that allow fixes.
    release_kind: str = "change"
    application: str | None = None
    previous_environment: str | None = None
    previous_soak_minutes: int = 0
    # When R's latest successful deployment to the previous environment finished (None: never).
    live_in_previous_since: datetime | None = None
    freezes: list[Freeze] = field(default_factory=list)
    # The locks holding the environment now (for any application), and whether an admin overrides them.
    locks: list[Lock] = field(default_factory=list)
    override_lock: bool = False
    active_deployment: bool = False
    # That deployment (`id, release_id, version, status`), for the refusal to name it.
    under_way: Any = None
    # The one under way there that nobody moved in time: it expires when a request takes the slot.
    stale_deployment: Any = None
    override_freeze: bool = False
    # Every approver belongs to each of these teams (the stage's and the environment policy's).
    approver_teams: tuple[str, ...] = ()
    # The approval rules to meet ("1 from qa and 2 from sre"); their counts add up to required_approvals.
    approval_rules: tuple[ApprovalRule, ...] = ()
    # Environments the application's path skips before this one although their policy says none may.
    skipped_by_policy: tuple[str, ...] = ()
    # The hotfix lane: the stages this request skips (each says who may, in its `skippable_by`).
    skipping: tuple[Stage, ...] = ()
    # Forward-only: the release's version, the one live in the environment (None: nothing), and
    # whether the stage lets an older one deploy as a deploy.
    version: str | None = None
    live_version: str | None = None
    allow_older: bool = False
    # The environment's deploy windows (None: any time).
    windows: DeployWindows | None = None


@dataclass(frozen=True)
class Blocker:
    code: str
    detail: str
    # What the gate names, as (member, value) pairs its item in the problem's `errors` carries.
    refers: tuple[tuple[str, str], ...] = ()


def blockers(facts: GateFacts, now: datetime) -> list[Blocker]:
    """Every gate that fails, in the contract's order (the first one is the response's `code`)."""
    found: list[Blocker] = []
    if facts.release_status != "ready":
        found.append(_not_ready(facts.release_status))
    if facts.previous_environment is not None:
        if facts.live_in_previous_since is None:
            found.append(
                Blocker(
                    "promotion_required",
                    f"The release has not succeeded in {facts.previous_environment}, "
                    f"the stage before {facts.environment}.",
                )
            )
        elif now < facts.live_in_previous_since + timedelta(minutes=facts.previous_soak_minutes):
            ready_at = facts.live_in_previous_since + timedelta(minutes=facts.previous_soak_minutes)
            found.append(
                Blocker(
                    "soak_time_pending",
                    f"The release must soak in {facts.previous_environment} for {facts.previous_soak_minutes} minutes; "
                    f"it may be promoted from {ready_at.isoformat()}.",
                )
            )
    if facts.skipped_by_policy:
        names = ", ".join(facts.skipped_by_policy)
        found.append(
            Blocker(
                "below_environment_policy",
                f"The application's path skips {names}, which its environment policy says no path reaching "
                f"{facts.environment} may skip; an admin of the application adds it to the path.",
            )
        )
    if older_than_live(facts):
        found.append(
            Blocker(
                "older_than_live",
                f"{facts.application} {facts.version} is older than {facts.live_version}, live in {facts.environment}: "
                "going back is a rollback (POST /releases/rollback, with its reason), unless the stage allows "
                "older releases (allow_older).",
            )
        )
    windows = facts.windows
    if windows is not None and windows.outside == "refuse" and not windows.open_at(now):
        found.append(outside_window(facts.environment, windows))
    covering = holding_freezes(facts.freezes, facts.environment, now, facts.application, facts.release_kind)
    if covering and not facts.override_freeze:
        found.append(_frozen(facts.environment, covering))
    holding = active_locks(facts.locks, facts.environment, now, facts.application)
    if holding and not facts.override_lock:
        found.append(locked(facts.environment, holding))
    if facts.active_deployment:
        found.append(deployment_in_progress(facts.application, facts.environment, facts.under_way))
    return found


def holding_freezes(
    freezes: list[Freeze], environment: str, now: datetime, application: str | None, release_kind: str
) -> list[Freeze]:
    """The freezes covering `environment` now that hold a release of `release_kind` (a fix passes
    those that allow fixes)."""
    covering = active_freezes(freezes, environment, now, application)
    return [f for f in covering if not (release_kind == "fix" and f.allows_fixes)]


def outside_window(environment: str, windows: DeployWindows) -> Blocker:
    return Blocker(
        "outside_deploy_window",
        f"Work starts in {environment} only inside its deploy windows: {windows.describe()}.",
    )


def older_than_live(facts: GateFacts) -> bool:
    """Forward-only: is the release older by SemVer than what is live there, where the stage forbids it?"""
    if facts.allow_older or facts.version is None or facts.live_version is None:
        return False
    return parse_version(facts.version) < parse_version(facts.live_version)


def deployment_in_progress(application: str | None, environment: str, under_way: Any = None) -> Blocker:
    """One deployment at a time per application and environment: the gate, and the answer when a
    concurrent request won the race for the slot. It names the deployment under way where it is
    known (`id, release_id, version, status`), so the person can wait for it, decide or cancel it."""
    what = application or "this application"
    detail = f"Another deployment of {what} to {environment} is under way"
    if under_way is None:
        return Blocker("deployment_in_progress", detail + ".")
    status = str(under_way.status).replace("_", " ")
    return Blocker(
        "deployment_in_progress",
        f"{detail}: {under_way.version}, {status} (deployment {under_way.id}).",
        refers=(("deployment_id", str(under_way.id)), ("release_id", str(under_way.release_id))),
    )


def _not_ready(release_status: str) -> Blocker:
    return Blocker("release_not_ready", f"The release is {release_status}; only ready releases deploy.")


def _frozen(environment: str, covering: list[Freeze]) -> Blocker:
    reasons = "; ".join(f.reason for f in covering)
    return Blocker("environment_frozen", f"{environment} is frozen: {reasons}.")


def locked(environment: str, holding: Iterable[Lock]) -> Blocker:
    """The refusal while locks hold: who locked, when, why, and until when, for each."""
    parts = []
    for lock in holding:
        scope = f" for {lock.application}" if lock.application else ""
        until = f", until {lock.unlock_at.isoformat()}" if lock.unlock_at else ", until someone unlocks it"
        since = lock.locked_at.isoformat()
        parts.append(f"{environment} is locked{scope} by {lock.locked_by} since {since}{until}: {lock.reason}")
    return Blocker("environment_locked", "; ".join(parts) + ".")


# -- gates at every step ----------------------------------------------------------------------------

# Cancelling a release ends its deployments that have not started. One already `in_progress` is
# left to its pipeline: the work is running and only the pipeline can stop it, so it may still
# report `succeeded`, `failed` or `cancelled` and the record stays true to what runs (a cancelled
# release that went live is a rollback away; it is never promoted further nor a rollback target).
ENDED_BY_RELEASE_CANCEL = ("pending_approval", "queued")
# The moves towards running: the approval that queues a deployment, and `queued → in_progress`.
_STARTS_WORK = ("queued", "in_progress")


def starts_work(to_status: str) -> bool:
    """Does moving a deployment to `to_status` bring it closer to running (so the gates re-apply)?"""
    return to_status in _STARTS_WORK


@dataclass(frozen=True)
class MoveFacts:
    """What the gates re-check, when a requested deployment moves towards running."""

    kind: str
    release_status: str
    environment: str
    freezes: tuple[Freeze, ...] = ()
    release_kind: str = "change"
    # The environment's deploy windows, and whether this move is the start (`in_progress`): a window
    # holds when work starts, whether the request was refused or made to wait outside it.
    windows: DeployWindows | None = None
    starting: bool = False
    application: str | None = None
    locks: tuple[Lock, ...] = ()
    # The windows an admin overrode at request time: the override holds for those, for the whole
    # deployment, and for no window that began to cover it later. The same for locks.
    overridden: frozenset[Any] = frozenset()
    overridden_locks: frozenset[Any] = frozenset()


def move_blockers(facts: MoveFacts, now: datetime) -> list[Blocker]:
    """The gates that hold at every move towards running: the release is still `ready`, and no freeze
    covers the environment (but those an admin overrode at request time; a rollback may run in a
    freeze). Promotion and soak time were met at the request and cannot be undone."""
    found: list[Blocker] = []
    if facts.release_status != "ready":
        found.append(_not_ready(facts.release_status))
    covering = [
        f
        for f in holding_freezes(list(facts.freezes), facts.environment, now, facts.application, facts.release_kind)
        if f.id not in facts.overridden
    ]
    if covering and facts.kind != "rollback":
        found.append(_frozen(facts.environment, covering))
    windows = facts.windows
    if windows is not None and facts.starting and facts.kind != "rollback" and not windows.open_at(now):
        found.append(outside_window(facts.environment, windows))
    holding = [
        lock
        for lock in active_locks(list(facts.locks), facts.environment, now, facts.application)
        if lock.id not in facts.overridden_locks
    ]
    if holding:  # a lock stops rollbacks too: it is a person saying "hands off" (an admin overrides it)
        found.append(locked(facts.environment, holding))
    return found


# -- rollback ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PastDeployment:
    """A deployment that succeeded in an environment, and what became of its release."""

    id: Any
    release_id: Any
    release_status: str
    finished_at: datetime


def last_good(succeeded_newest_first: list[PastDeployment]) -> PastDeployment | None:
    """After a failed deploy (which never went live): the newest success of an uncancelled release,
    what to go back to."""
    return next((past for past in succeeded_newest_first if past.release_status != "cancelled"), None)


def rollback_target(succeeded_newest_first: list[PastDeployment]) -> tuple[PastDeployment, PastDeployment] | None:
    """(live, target): the live deployment and the last earlier success of another, uncancelled release."""
    if not succeeded_newest_first:
        return None
    live, *earlier = succeeded_newest_first
    for candidate in earlier:
        if candidate.release_id != live.release_id and candidate.release_status != "cancelled":
            return live, candidate
    return None
