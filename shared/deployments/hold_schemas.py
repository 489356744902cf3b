"""Request bodies, queries and answers of what holds deployments: freeze windows, locks, and the
weekly windows that freezes and deploy windows share (unknown fields are refused)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from shared.deployments import holds
from shared.models import Out, Strict, Timestamp
from shared.names import SLUG_PATTERN, known_zone
from shared.pagination import PageQuery

ENVIRONMENT = Field(pattern=SLUG_PATTERN)
CLOCK = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
_DAYS = {d[:3]: d for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}


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
    def _known_timezone(cls, value: str | None) -> str | None:
        return known_zone(value)

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
