"""The queries and answers of the overview (what is live where) and the DORA metrics (`insights`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from shared.deployments import rules
from shared.models import Out, Strict
from shared.names import SLUG_PATTERN


class OverviewQuery(Strict):
    application: str = Field(pattern=SLUG_PATTERN)


class MetricsQuery(Strict):
    application: str | None = Field(default=None, pattern=SLUG_PATTERN)
    environment: str = Field(default="production", max_length=63)
    days: int = Field(default=30, ge=1, le=365)


# -- responses ------------------------------------------------------------------------------------


class OverviewEntryOut(Out):
    deployment_id: uuid.UUID
    release_id: uuid.UUID
    version: str
    title: str
    kind: rules.Kind
    status: rules.Status
    finished_at: datetime | None


class OverviewStageOut(Out):
    live: OverviewEntryOut | None
    previous: OverviewEntryOut | None
    in_progress: OverviewEntryOut | None


class OverviewOut(Out):
    application: str
    environments: dict[str, OverviewStageOut]


class FrequencyOut(Out):
    per_day: float
    deployments: int
    days: int


class LeadTimeOut(Out):
    p50_hours: float | None
    p90_hours: float | None
    deployments: int


class FailureRateOut(Out):
    rate: float | None
    failures: int
    deployments: int


class RestoreOut(Out):
    p50_hours: float | None
    restores: int
    failures: int


class ReworkOut(Out):
    rate: float | None
    rework: int
    deployments: int


class MetricsOut(Out):
    application: str | None
    environment: str
    days: int
    since: datetime
    until: datetime
    deployment_frequency: FrequencyOut
    lead_time_for_changes: LeadTimeOut
    change_failure_rate: FailureRateOut
    time_to_restore: RestoreOut
    rework_rate: ReworkOut
