"""Request bodies and queries of the deployment endpoints (unknown fields are refused), and what they answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, field_validator, model_validator

from shared.deployments import holds, rules
from shared.models import Out, Strict, Timestamp
from shared.names import SLUG_PATTERN
from shared.pagination import PageQuery

ENVIRONMENT = Field(pattern=SLUG_PATTERN)
CLOCK = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
_DAYS = {d[:3]: d for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}


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
    reason: str | None = Field(default=None, min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _override_needs_a_reason(self) -> Self:
        for flag in ("override_freeze", "override_lock"):
            if getattr(self, flag) and not self.reason:
                raise ValueError(f"reason: required when {flag} is set")
        return self


class PreflightIn(Strict):
    environment: str = ENVIRONMENT


class StatusIn(Strict):
    status: rules.Reported
    log_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    message: str | None = Field(default=None, max_length=4000)


class ApprovalIn(Strict):
    decision: rules.Decision
    comment: str = Field(default="", max_length=2000)


class RollbackIn(Strict):
    application: str = Field(pattern=SLUG_PATTERN)
    environment: str = ENVIRONMENT
    reason: str = Field(min_length=1, max_length=1000)
    override_lock: bool = Field(default=False, description="An admin there rolls back although a lock holds.")


class LockIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"environment": "production", "reason": "Incident INC-4711: payments failing"},
                {
                    "environment": "staging",
                    "application": "shop",
                    "reason": "Data migration",
                    "unlock_at": "2026-12-08T18:00:00Z",
                },
            ]
        },
    )

    environment: str = ENVIRONMENT
    application: str | None = Field(default=None, pattern=SLUG_PATTERN, description="None: every application.")
    reason: str = Field(min_length=1, max_length=1000)
    unlock_at: Timestamp | None = Field(default=None, description="It unlocks itself then (None: only by unlocking).")


class UnlockIn(Strict):
    reason: str | None = Field(default=None, min_length=1, max_length=1000)


class LockQuery(PageQuery):
    environment: str | None = Field(default=None, max_length=63)
    application: str | None = Field(
        default=None, max_length=63, description="Its locks and those of every application."
    )
    active: bool | None = Field(default=None, description="true: only those holding now; false: only those that ended.")


class WeeklyWindow(Strict):
    day: holds.Weekday = Field(description="Weekday; full names and any case are accepted (`Friday` becomes `fri`).")
    start: str = Field(pattern=CLOCK, description="Local wall-clock time, HH:MM (seconds are dropped).")
    end: str = Field(pattern=CLOCK, description="HH:MM; at or before `start` means the next day.")

    @field_validator("day", mode="before")
    @classmethod
    def _short_day(cls, value: object) -> object:
        if isinstance(value, str) and len(value) >= 3 and value[:3].lower() in _DAYS:
            full = _DAYS[value[:3].lower()]
            if value.lower() in (value[:3].lower(), full):
                return value[:3].lower()
        return value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _minutes(cls, value: object) -> object:
        if isinstance(value, str) and len(value) == 8 and value.endswith(":00") and value.count(":") == 2:
            return value[:5]
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("end: must differ from start")
        return self


class FreezeIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "environment": "production",
                    "starts_at": "2026-12-24T00:00:00Z",
                    "ends_at": "2026-12-27T00:00:00Z",
                    "reason": "Holidays",
                },
                {
                    "environment": "production",
                    "weekly": [{"day": "fri", "start": "16:00", "end": "23:59"}],
                    "timezone": "Europe/Berlin",
                    "reason": "No Friday deploys",
                },
            ]
        },
    )

    environment: str | None = Field(default=None, pattern=SLUG_PATTERN, description="None: all.")
    application: str | None = Field(default=None, pattern=SLUG_PATTERN, description="None: every application.")
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    weekly: list[WeeklyWindow] | None = Field(default=None, min_length=1, max_length=50)
    timezone: str | None = Field(default=None, max_length=64, description="IANA zone, e.g. Europe/Berlin.")
    reason: str = Field(min_length=1, max_length=1000)
    allow_fixes: bool = Field(
        default=False,
        description="true: releases of kind fix (with their incident) deploy through it without an override.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _one_off_or_weekly(self) -> Self:
        if self.weekly is not None:
            if self.starts_at is not None or self.ends_at is not None:
                raise ValueError("weekly: give weekly windows or starts_at/ends_at, not both")
            if self.timezone is None:
                raise ValueError("timezone: required with weekly windows")
        elif self.starts_at is None or self.ends_at is None:
            raise ValueError("starts_at: a one-off freeze needs starts_at and ends_at")
        elif self.ends_at <= self.starts_at:
            raise ValueError("ends_at: must be after starts_at")
        return self


class FreezeQuery(PageQuery):
    environment: str | None = Field(default=None, max_length=63)
    application: str | None = Field(default=None, max_length=63)
    active: bool | None = None


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
    decision: rules.Decision
    comment: str
    created_at: datetime


class DeploymentOut(Out):
    id: uuid.UUID
    release_id: uuid.UUID
    application: str
    version: str
    environment: str
    kind: rules.Kind
    status: rules.Status
    requested_by: uuid.UUID
    reason: str | None
    override_freeze: bool
    overridden_locks: list[uuid.UUID] = Field(description="The locks an admin's request overrode.")
    replaces_id: uuid.UUID | None
    approvals: list[ApprovalOut]
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


class PreflightOut(Out):
    allowed: bool
    needs_approval: bool
    required_approvals: int = Field(description="Approvals needed here: the stage's or its policy's, the higher.")
    approver_teams: list[str] = Field(description="Every approver belongs to each of these teams (empty: any).")
    policy: PolicyOut | None = Field(description="The environment's policy, where it sets anything.")
    blocking: list[BlockerOut]


class WeeklyOut(Out):
    day: str
    start: str
    end: str


class FreezeOut(Out):
    id: uuid.UUID
    environment: str | None
    application: str | None = Field(description="null: every application.")
    starts_at: datetime | None
    ends_at: datetime | None
    weekly: list[WeeklyOut] | None
    timezone: str | None
    reason: str
    allow_fixes: bool
    created_by: uuid.UUID
    created_at: datetime
    active: bool


class PersonOut(Out):
    id: uuid.UUID
    email: str | None = Field(description="null for a service account.")
    display_name: str | None


class LockOut(Out):
    id: uuid.UUID
    environment: str
    application: str | None = Field(description="null: every application.")
    reason: str
    locked_by: PersonOut
    locked_at: datetime
    unlock_at: datetime | None = Field(description="When it unlocks itself (null: only by unlocking).")
    unlocked_by: PersonOut | None
    unlocked_at: datetime | None
    unlock_reason: str | None
    active: bool = Field(description="Whether it holds now.")
