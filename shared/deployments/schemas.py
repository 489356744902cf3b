"""Request bodies and queries of the deployment endpoints (unknown fields are refused), and what they
answer. Those of freezes and locks are in `hold_schemas`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from shared.applications.schemas import ApprovalRuleOut, ApprovalRules
from shared.deployments import holds, rules
from shared.deployments.hold_schemas import ENVIRONMENT, WeeklyOut, WeeklyWindow
from shared.models import Out, Strict, WebLink
from shared.names import SLUG_PATTERN, known_zone
from shared.pagination import PageQuery

SkipStages = Annotated[
    list[Annotated[str, Field(pattern=SLUG_PATTERN)]],
    Field(
        max_length=10,
        description="The hotfix lane: stages before this environment to skip (each stage's skippable_by "
        "says who may; a reason is required). Promotion and soak time look at the nearest stage not skipped.",
    ),
]


class DeploymentIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"environment": "staging"},
                {"environment": "production", "override_freeze": True, "reason": "Security fix CVE-2026-1234"},
            ]
        },
    )

    environment: str = ENVIRONMENT
    override_freeze: bool = False
    override_lock: bool = Field(default=False, description="An admin there starts it although a lock holds.")
    skip_stages: SkipStages = Field(default_factory=list)
    reason: str | None = Field(default=None, min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _override_needs_a_reason(self) -> Self:
        for flag in ("override_freeze", "override_lock", "skip_stages"):
            if getattr(self, flag) and not self.reason:
                raise ValueError(f"reason: required when {flag} is set")
        return self


class PreflightIn(Strict):
    environment: str = ENVIRONMENT
    skip_stages: SkipStages = Field(default_factory=list)


class StatusIn(Strict):
    status: rules.Reported
    log_url: WebLink | None = None
    message: str | None = Field(default=None, max_length=4000)


class ApprovalIn(Strict):
    decision: rules.Decision
    comment: str = Field(default="", max_length=2000)


class RollbackIn(Strict):
    application: str = Field(pattern=SLUG_PATTERN)
    environment: str = ENVIRONMENT
    reason: str = Field(min_length=1, max_length=1000)
    override_lock: bool = Field(default=False, description="An admin there rolls back although a lock holds.")


class EnvironmentIn(Strict):
    position: int = Field(ge=1, le=1000)
    required_approvals: int = Field(default=0, ge=0, le=10)
    soak_minutes: int = Field(default=0, ge=0, le=7 * 24 * 60)


class PolicyIn(Strict):
    """An environment's policy, replaced whole (a field left out takes its default: no floor)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"min_approvals": 1, "approver_team": "sre", "skippable": False}]},
    )

    min_approvals: int = Field(
        default=0, ge=0, le=10, description="No application's stage here may ask for fewer approvals."
    )
    approver_team: str | None = Field(
        default=None,
        pattern=SLUG_PATTERN,
        description="Every approval here is by a member of this team (as well as any team the stage names).",
    )
    skippable: bool = Field(
        default=True,
        description="false: no path reaches an environment after this one (in the catalogue's order) "
        "without going through this one first.",
    )
    expire_after_hours: int = Field(
        default=24,
        ge=1,
        le=720,
        description="A deployment waiting here (pending_approval or queued) that nobody moved for this long "
        "ends as expired, freeing the slot.",
    )
    deploy_windows: list[WeeklyWindow] | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="When work may start here, weekly in `windows_timezone` (null: any time). Rollbacks pass.",
    )
    windows_timezone: str | None = Field(default=None, max_length=64, description="IANA zone, e.g. Europe/Berlin.")
    outside_window: holds.OutsideWindow = Field(
        default="refuse", description="refuse: a request outside the windows is refused; wait: it starts in the next."
    )
    approval_rules: ApprovalRules = Field(
        default_factory=list,
        description="Rules every stage here meets on top of its own (for a group both name, the higher count).",
    )

    @field_validator("windows_timezone")
    @classmethod
    def _known_windows_zone(cls, value: str | None) -> str | None:
        return known_zone(value)

    @model_validator(mode="after")
    def _windows_have_a_zone(self) -> Self:
        if self.deploy_windows is not None and self.windows_timezone is None:
            raise ValueError("windows_timezone: required with deploy_windows")
        return self


class DeploymentQuery(PageQuery):
    application: str | None = Field(default=None, pattern=SLUG_PATTERN)
    environment: str | None = Field(default=None, max_length=63)
    status: rules.Status | None = None


# -- responses ------------------------------------------------------------------------------------


class DeploymentSummaryOut(Out):
    deployment_id: uuid.UUID
    kind: rules.Kind
    status: rules.Status
    created_at: datetime
    finished_at: datetime | None
    live: bool


class PolicyOut(Out):
    environment: str
    min_approvals: int
    approver_team: str | None
    skippable: bool
    expire_after_hours: int
    deploy_windows: list[WeeklyOut] | None
    windows_timezone: str | None
    outside_window: holds.OutsideWindow
    approval_rules: list[ApprovalRuleOut]
    updated_at: datetime | None = Field(description="When an admin last set it (null: never).")


class EnvironmentOut(Out):
    name: str
    position: int
    required_approvals: int
    soak_minutes: int
    updated_at: datetime
    policy: PolicyOut = Field(description="The floor every application's stage here is held to.")


class ApprovalOut(Out):
    id: uuid.UUID
    user_id: uuid.UUID
    user_name: str | None = Field(description="The approver's display name, else email (null: unknown).")
    decision: rules.Decision
    comment: str
    qualified_for: list[str] | None = Field(
        description="The groups (team:<name>, role:<role>) the approver was in when they decided "
        "(null: decided before approvals had groups; it counts for any rule)."
    )
    created_at: datetime


class RuleProgressOut(ApprovalRuleOut):
    approved_by: list[uuid.UUID] = Field(description="Who counts for this rule (one person for one rule only).")
    remaining: int = Field(description="Approvals this rule still needs (0: met).")


class DeploymentOut(Out):
    id: uuid.UUID
    release_id: uuid.UUID
    application: str
    version: str
    environment: str
    kind: rules.Kind
    status: rules.Status
    requested_by: uuid.UUID
    requested_by_name: str | None = Field(
        description="The requester's display name, else email, or the rule's name (null: unknown)."
    )
    requested_by_rule: rules.Rule | None = Field(
        description="The stage's rule that requested it by itself (`requested_by` is then the nil UUID); null: "
        "a person or a pipeline did."
    )
    reason: str | None
    override_freeze: bool
    overridden_locks: list[uuid.UUID] = Field(description="The locks an admin's request overrode.")
    skipped_stages: list[str] = Field(description="The stages its request skipped (the hotfix lane).")
    replaces_id: uuid.UUID | None
    approvals: list[ApprovalOut]
    approval_rules: list[RuleProgressOut] = Field(
        description="The approval rules it waits for (as of its request or its last decision), each with its "
        "progress; empty: it needs no approval."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    log_url: str | None
    message: str | None


class DecisionOut(ApprovalOut):
    deployment: DeploymentOut


class BlockerOut(Out):
    code: str
    detail: str


Direction = Literal["forward", "backward", "same"]
SUMMARY_RELEASES = 10


class ChangeOut(Out):
    version: str
    title: str


class ChangesOut(Out):
    base_version: str | None = Field(description="What is live there now (null: nothing).")
    direction: Direction = Field(description="forward: the candidate is newer; backward: older (a rollback); same.")
    count: int = Field(description="Releases in between (the candidate included).")
    releases: list[ChangeOut] = Field(description=f"The newest {SUMMARY_RELEASES} of them.")
    commit_range: str | None
    compare_url: str | None


class PreflightOut(Out):
    allowed: bool
    needs_approval: bool
    required_approvals: int = Field(description="Approvals needed here: the stage's or its policy's, the higher.")
    approver_teams: list[str] = Field(description="Every approver belongs to each of these teams (empty: any).")
    approval_rules: list[ApprovalRuleOut] = Field(
        description="What approving needs here, the stage's rules and the policy's merged: all must be met."
    )
    policy: PolicyOut | None = Field(
        description="The environment's policy, once an admin has set it or where it sets a floor."
    )
    blocking: list[BlockerOut]
    changes: ChangesOut = Field(description="What deploying it there changes, in short (GET /releases/compare).")
