"""Promotion-path rules as plain functions over plain data: stages, and the environment policies
that no application's path may go below."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.errors import FieldError, Invalid


@dataclass(frozen=True)
class ApprovalRule:
    """`count` approvals from a group: members of `team`, holders of `role` (or more) on the
    application there, or (neither) anyone who may approve there."""

    count: int
    team: str | None = None
    role: str | None = None

    @property
    def group(self) -> str:
        """What an approver qualifies for: `team:<name>`, `role:<role>` or `any`."""
        if self.team is not None:
            return f"team:{self.team}"
        return f"role:{self.role}" if self.role is not None else "any"

    def describe(self) -> str:
        """The rule in words: "2 from the team sre"."""
        if self.team is not None:
            return f"{self.count} from the team {self.team}"
        if self.role is not None:
            return f"{self.count} from holders of {self.role}"
        return f"{self.count} from any approver"


def approval_rules_of(stored: Sequence[Mapping[str, Any]] | None) -> tuple[ApprovalRule, ...]:
    """Approval rules as stored (`[{count, team, role}]`, a JSONB array) as the rules see them."""
    return tuple(ApprovalRule(int(r["count"]), r.get("team"), r.get("role")) for r in stored or ())


@dataclass(frozen=True)
class Stage:
    """One stage of a promotion path: a complete value, every field set (what is stored is this)."""

    environment: str
    required_approvals: int = 0
    soak_minutes: int = 0
    approver_team: str | None = None
    # False (forward-only): a release older by SemVer than the one live here deploys only as a rollback.
    allow_older: bool = False
    # Approval rules, all of which must be met (then `required_approvals` is their sum and there is
    # no `approver_team`); empty: `required_approvals` from anyone `approver_team` admits.
    approval_rules: tuple[ApprovalRule, ...] = ()
    # The hotfix lane: who (this role or more, in the environment deployed to) may skip this stage,
    # with a reason; None: no one.
    skippable_by: str | None = None
    # Auto-promotion: a release that succeeded in the stage before and soaked there is requested here
    # by the rule itself, at once or (a train) at the times of `train_schedule` (cron, in `train_timezone`).
    auto_promote: bool = False
    train_schedule: str | None = None
    train_timezone: str | None = None
    # A deployment here reported failed has the rollback to the last good release requested.
    auto_rollback: bool = False


@dataclass(frozen=True)
class Policy:
    """An environment's policy, set by organisation-wide admins: the floor of every path's stage there.

    `position` is the environment's place in the catalogue: it orders environments for `skippable`."""

    environment: str
    position: int
    min_approvals: int = 0
    approver_team: str | None = None
    # False: a path that reaches any environment after this one (in the catalogue's order) goes
    # through this one first.
    skippable: bool = True
    # Rules every stage here meets on top of its own (by group, the higher count).
    approval_rules: tuple[ApprovalRule, ...] = ()

    @property
    def sets_anything(self) -> bool:
        return bool(self.min_approvals or self.approver_team or not self.skippable or self.approval_rules)


@dataclass(frozen=True)
class Requirement:
    """What an approval needs in one environment: the stage and the policy, whichever asks more."""

    required_approvals: int
    # An approver belongs to every one of these teams (the stage's and the policy's).
    approver_teams: tuple[str, ...] = ()
    # Every rule is met before the deployment is queued; their counts add up to `required_approvals`.
    rules: tuple[ApprovalRule, ...] = field(default=())


def locate(path: Sequence[Stage], environment: str, *, application: str) -> tuple[Stage, Stage | None]:
    """The stage for `environment` on the path and the one before it (None for the first); 422
    `environment_not_on_path` when the application's path does not go there."""
    for index, stage in enumerate(path):
        if stage.environment == environment:
            return stage, path[index - 1] if index > 0 else None
    stages = " → ".join(s.environment for s in path) or "no stages"
    raise Invalid(
        f"{environment!r} is not on {application}'s promotion path ({stages}).",
        code="environment_not_on_path",
        errors=[FieldError("environment", "not on the application's promotion path")],
    )


def locate_skipping(
    path: Sequence[Stage], environment: str, skip: Sequence[str], *, application: str
) -> tuple[Stage, Stage | None]:
    """The stage for `environment` and the one before it once the stages in `skip` are left out (the
    hotfix lane: promotion and soak time look at the nearest stage not skipped)."""
    return locate(
        [s for s in path if s.environment not in skip or s.environment == environment],
        environment,
        application=application,
    )


def skip_refusals(
    path: Sequence[Stage], environment: str, skip: Sequence[str], policies: Mapping[str, Policy]
) -> list[FieldError]:
    """Why the stages in `skip` may not be skipped on the way to `environment` (empty: they may, by
    whoever holds each one's `skippable_by`): each is a stage before it on the path, says who may skip
    it, and its environment policy lets paths skip it."""
    before = {s.environment: s for s in path[: next(i for i, s in enumerate(path) if s.environment == environment)]}
    refusals: list[FieldError] = []
    for index, name in enumerate(skip):
        stage, policy = before.get(name), policies.get(name)
        if stage is None:
            why = f"{name} is not a stage before {environment} on the path"
        elif stage.skippable_by is None:
            why = f"{name}'s stage does not let anyone skip it (skippable_by is null)"
        elif policy is not None and not policy.skippable:
            why = f"{name}'s environment policy says no path skips it"
        else:
            continue
        refusals.append(FieldError(f"skip_stages.{index}", why, code="skip_not_allowed"))
    return refusals


def check_path(path: Sequence[Stage]) -> None:
    """A path visits each environment once (422 naming the repeated stage), and its first stage has
    no stage before it to promote from."""
    seen: set[str] = set()
    for index, stage in enumerate(path):
        if stage.environment in seen:
            raise Invalid(
                f"{stage.environment!r} appears twice on the path.",
                errors=[FieldError(f"path.{index}.environment", "appears earlier on the path")],
            )
        seen.add(stage.environment)
    if path and path[0].auto_promote:
        raise Invalid(
            f"{path[0].environment!r} is the first stage: no release succeeds before it, so it cannot be "
            "promoted to it by itself.",
            code="auto_promote_first_stage",
            errors=[FieldError("path.0.auto_promote", "the first stage has no stage before it")],
        )


def requirement(stage: Stage, policy: Policy | None) -> Requirement:
    """What approving a deployment at `stage` needs, with its environment's policy applied on top: the
    stage's rules and the policy's, one per group with the higher count; then, where they add up to
    fewer than the policy's minimum, the rest from any approver."""
    teams = [stage.approver_team] if stage.approver_team else []
    if policy is not None and policy.approver_team and policy.approver_team not in teams:
        teams.insert(0, policy.approver_team)
    own = stage.approval_rules or ((ApprovalRule(stage.required_approvals),) if stage.required_approvals else ())
    merged = {rule.group: rule for rule in own}
    for rule in policy.approval_rules if policy is not None else ():
        held = merged.get(rule.group)
        merged[rule.group] = rule if held is None or held.count < rule.count else held
    missing = (policy.min_approvals if policy is not None else 0) - sum(r.count for r in merged.values())
    if missing > 0:
        anyone = merged.get("any")
        merged["any"] = ApprovalRule(missing + (anyone.count if anyone else 0))
    found = tuple(merged.values())
    return Requirement(sum(r.count for r in found), tuple(teams), found)


def skipped(path: Sequence[Stage], target: str, policies: Mapping[str, Policy]) -> list[Policy]:
    """The environments that may not be skipped and that `path` does not visit before `target`,
    although `target` comes after them in the catalogue."""
    index = next((i for i, s in enumerate(path) if s.environment == target), None)
    at = policies.get(target)
    if index is None or at is None:
        return []
    before = {s.environment for s in path[:index]}
    return [
        p
        for p in sorted(policies.values(), key=lambda p: p.position)
        if not p.skippable and p.position < at.position and p.environment not in before
    ]


def skipped_detail(target: str, missing: Sequence[Policy]) -> str:
    names = ", ".join(p.environment for p in missing)
    return f"The environment policy of {names} says no path reaches {target} without going through it first."


def below_policy(path: Sequence[Stage], policies: Mapping[str, Policy]) -> list[FieldError]:
    """Where `path` asks less than an environment's policy: one error per field, naming the policy."""
    errors: list[FieldError] = []
    code = "below_environment_policy"
    for index, stage in enumerate(path):
        policy = policies.get(stage.environment)
        if policy is None:
            continue
        if stage.required_approvals < policy.min_approvals:
            errors.append(
                FieldError(
                    f"path.{index}.required_approvals",
                    f"{stage.environment}'s environment policy asks for at least {policy.min_approvals} approvals",
                    code=code,
                )
            )
        # Another team than the policy's is stricter, not below: approvers then need both.
        if policy.approver_team and stage.approver_team is None:
            errors.append(
                FieldError(
                    f"path.{index}.approver_team",
                    f"{stage.environment}'s environment policy asks for approvals from team {policy.approver_team}",
                    code=code,
                )
            )
    for index, stage in enumerate(path):
        missing = skipped(path, stage.environment, policies)
        if missing:
            errors.append(
                FieldError(f"path.{index}.environment", skipped_detail(stage.environment, missing), code=code)
            )
    return errors


def check_policies(path: Sequence[Stage], policies: Mapping[str, Policy]) -> None:
    """422 `below_environment_policy` when `path` goes below an environment policy, naming each one."""
    errors = below_policy(path, policies)
    if errors:
        raise Invalid(
            "The path goes below an environment policy, which only an organisation-wide admin changes: "
            + "; ".join(e.message for e in errors)
            + ".",
            code="below_environment_policy",
            errors=errors,
        )


def path_followed(own: Sequence[Stage], default: Sequence[Stage]) -> tuple[list[Stage], bool]:
    """The path an application's gates follow: its own when it has one, else the default path (the
    environments catalogue); and whether that is the default."""
    return (list(own), False) if own else (list(default), True)
