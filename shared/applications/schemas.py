"""Request bodies of the application endpoints (unknown fields are refused), and what they answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from shared.applications import rules, trains
from shared.models import Out, Strict
from shared.names import SLUG_PATTERN, known_zone


class ApprovalRuleIn(Strict):
    """`count` approvals from a group: a team, a role on the application there, or (neither) anyone
    who may approve there."""

    count: int = Field(ge=1, le=10)
    team: str | None = Field(default=None, pattern=SLUG_PATTERN, description="From members of this team.")
    role: Literal["release_manager", "admin"] | None = Field(
        default=None, description="From those holding this role (or more) on the application there."
    )

    @model_validator(mode="after")
    def _one_group(self) -> Self:
        if self.team is not None and self.role is not None:
            raise ValueError("a rule names a team or a role, not both")
        return self

    def rule(self) -> rules.ApprovalRule:
        return rules.ApprovalRule(self.count, self.team, self.role)


def _distinct_groups(value: list[ApprovalRuleIn]) -> list[ApprovalRuleIn]:
    groups = [rule.rule().group for rule in value]
    repeated = sorted({g for g in groups if groups.count(g) > 1})
    if repeated:
        raise ValueError(f"one rule per group; {', '.join(repeated)} appears twice")
    return value


ApprovalRules = Annotated[
    list[ApprovalRuleIn],
    Field(
        max_length=5,
        description="All must be met; one person's approval counts for one rule only, and the release's "
        "authors and the requester never count.",
    ),
    AfterValidator(_distinct_groups),
]


TrainSchedule = Annotated[str, Field(max_length=100), AfterValidator(trains.check_schedule)]


class StageIn(Strict):
    environment: str = Field(pattern=SLUG_PATTERN, description="An environment of the catalogue.")
    required_approvals: int = Field(default=0, ge=0, le=10)
    soak_minutes: int = Field(
        default=0, ge=0, le=7 * 24 * 60, description="How long a release must be live here before its next stage."
    )
    approver_team: str | None = Field(
        default=None,
        pattern=SLUG_PATTERN,
        description="Only members of this team (holding release_manager+ here) may approve; null: any release manager.",
    )
    allow_older: bool = Field(
        default=False,
        description="false (forward-only): a release older by SemVer than the one live here deploys only as a "
        "rollback (`POST /releases/rollback`, with its reason).",
    )
    approval_rules: ApprovalRules = Field(
        default_factory=list,
        description="Approval rules, e.g. 1 from the team qa and 2 from the team sre; given, they replace "
        "required_approvals and approver_team (and required_approvals becomes their sum).",
    )

    skippable_by: Literal["release_manager", "admin"] | None = Field(
        default=None,
        description="The hotfix lane: who (this role or more where the release goes) may skip this stage on "
        "the way to a later one, with a reason (null: no one).",
    )

    auto_promote: bool = Field(
        default=False,
        description="Auto-promotion: a release that succeeded in the stage before, soaked there and saw no "
        "failure there since is requested here by the stage's rule (once per release), as soon as the "
        "scheduler's dispatch sees it, or at the train's times when `train_schedule` is set. The gates "
        "still apply: a stage that needs approvals asks for them.",
    )
    train_schedule: TrainSchedule | None = Field(
        default=None,
        description="A release train: auto-promote only at these times (a five-field cron expression, e.g. "
        "`0 10 * * 1-5`), what had soaked in the stage before by then; needs `auto_promote`.",
    )
    train_timezone: str | None = Field(
        default=None,
        max_length=64,
        description="The IANA zone `train_schedule` is read in (default UTC), e.g. Europe/Berlin.",
    )
    auto_rollback: bool = Field(
        default=False,
        description="A deployment here reported failed has the rollback to the last good release requested "
        "by the stage's rule (the pipeline still carries it out).",
    )

    @field_validator("train_timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        return known_zone(value)

    @model_validator(mode="after")
    def _rules_or_count(self) -> Self:
        if self.approval_rules and (self.required_approvals or self.approver_team):
            raise ValueError("approval_rules replace required_approvals and approver_team: give one or the other")
        if self.train_schedule is not None and not self.auto_promote:
            raise ValueError("train_schedule is when auto_promote promotes: set auto_promote too")
        if self.train_timezone is not None and self.train_schedule is None:
            raise ValueError("train_timezone is the zone of train_schedule: give a train_schedule too")
        return self

    def stage(self) -> rules.Stage:
        """The stage as stored: every field set, defaults included."""
        own = tuple(rule.rule() for rule in self.approval_rules)
        required = sum(rule.count for rule in own) if own else self.required_approvals
        return rules.Stage(
            self.environment,
            required,
            self.soak_minutes,
            self.approver_team,
            self.allow_older,
            approval_rules=own,
            skippable_by=self.skippable_by,
            auto_promote=self.auto_promote,
            train_schedule=self.train_schedule,
            train_timezone=(self.train_timezone or "UTC") if self.train_schedule else None,
            auto_rollback=self.auto_rollback,
        )


def _stages(path: list[StageIn] | None) -> list[rules.Stage] | None:
    return [stage.stage() for stage in path] if path is not None else None


Path = Annotated[list[StageIn], Field(min_length=1, max_length=20, description="Stages, first first.")]
DisplayName = Annotated[str, Field(min_length=1, max_length=100)]
Description = Annotated[str, Field(max_length=2000)]


class ApplicationIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "checkout",
                    "display_name": "Checkout",
                    "path": [
                        {"environment": "dev"},
                        {"environment": "production", "required_approvals": 1, "approver_team": "sre"},
                    ],
                }
            ]
        },
    )

    name: str = Field(pattern=SLUG_PATTERN, description="Lowercase slug: what releases name as `application`.")
    display_name: DisplayName
    description: Description = ""
    path: Path | None = Field(default=None, description="Its own promotion path; null: the default path.")

    def stages(self) -> list[rules.Stage] | None:
        return _stages(self.path)


class ApplicationPatch(Strict):
    """What may change; `path: null` returns the application to the default path."""

    display_name: DisplayName | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    path: Path | None = None

    def stages(self) -> list[rules.Stage] | None:
        return _stages(self.path)

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        for name in ("display_name", "description"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name}: may not be null")
        return self


# -- responses ------------------------------------------------------------------------------------


class ApprovalRuleOut(Out):
    count: int
    team: str | None
    role: str | None


class StageOut(Out):
    environment: str
    required_approvals: int
    soak_minutes: int
    approver_team: str | None
    allow_older: bool
    approval_rules: list[ApprovalRuleOut] = Field(description="Empty: required_approvals from approver_team.")
    skippable_by: str | None
    auto_promote: bool
    train_schedule: str | None
    train_timezone: str | None
    auto_rollback: bool


class ApplicationOut(Out):
    name: str
    display_name: str
    description: str
    path: list[StageOut] = Field(description="The promotion path the gates follow, first stage first.")
    default_path: bool = Field(
        description="true: the application follows the environments catalogue (`/releases/environments`), "
        "and changes there apply to it."
    )
    created_at: datetime
    updated_at: datetime
