"""What the API answers, as Pydantic models: published in the OpenAPI documents (and checked there
by the fuzzing against real responses), never used to serialise, which stays a plain dict."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["viewer", "developer", "release_manager", "admin"]
DeploymentStatus = Literal[
    "pending_approval", "queued", "in_progress", "succeeded", "failed", "rejected", "cancelled", "rolled_back"
]


class Out(BaseModel):
    """Responses may gain fields; clients should ignore the ones they don't know. Only the
    documents use these models, so they are built when a document is, never at import."""

    model_config = ConfigDict(defer_build=True)


# -- auth -----------------------------------------------------------------------------------------


class UserOut(Out):
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    is_active: bool
    created_at: datetime


class CredentialOut(Out):
    kind: Literal["api_token"] = Field(description="The kind of credential this request was made with.")
    role: Role = Field(
        description="What this credential may do now: the token's role, or its owner's role if that is lower."
    )
    expires_at: datetime


class MeOut(UserOut):
    role: Role = Field(description="The account's role. With an API token, the request may do `token.role`.")
    token: CredentialOut | None = Field(description="For an API token, what it may do; null for a login session.")


class TokenPairOut(Out):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"]
    expires_in: int


class ApiTokenOut(Out):
    id: uuid.UUID
    name: str
    role: Role
    prefix: str
    user_id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreatedOut(ApiTokenOut):
    token: str | None = Field(
        description="The secret, in the first response only (stored only as a hash). "
        "null when this answer replays an earlier request with the same Idempotency-Key."
    )
    note: str | None = Field(
        default=None, description="On an Idempotency-Key replay: why `token` is null and what to do."
    )


# -- releases -------------------------------------------------------------------------------------


class SourceOut(Out):
    repository: str
    commit_sha: str
    branch: str | None = None
    committed_at: datetime | None = None


class ArtifactOut(Out):
    name: str
    uri: str
    digest: str


class DeploymentSummaryOut(Out):
    deployment_id: uuid.UUID
    kind: Literal["deploy", "rollback"]
    status: DeploymentStatus
    created_at: datetime
    finished_at: datetime | None
    live: bool


class ReleaseOut(Out):
    id: uuid.UUID
    application: str
    version: str
    title: str
    notes: str
    source: SourceOut | None
    artifacts: list[ArtifactOut]
    status: Literal["draft", "ready", "cancelled"]
    cancel_reason: str | None
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime


class ReleaseDetailOut(ReleaseOut):
    deployments: dict[str, DeploymentSummaryOut]


class AuditEventOut(Out):
    id: uuid.UUID
    occurred_at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    data: dict[str, Any]
    request_id: str | None
    hash: str


class CheckpointOut(Out):
    seq: int
    hash: str


class VerifyOut(Out):
    ok: bool
    checked: int = Field(description="Events read.")
    first_bad: uuid.UUID | None = Field(description="The first event found wrong, if one is.")
    problem: (
        Literal["link_broken", "hash_mismatch", "unkeyed_after_keyed", "checkpoint_mismatch", "events_removed"] | None
    ) = Field(description="What is wrong; null when `ok`.")
    detail: str | None = Field(description="The problem in a sentence.")
    unkeyed: int = Field(description="Events hashed with plain SHA-256 before the chain was keyed (they lead it).")
    checkpoints: int = Field(description="Checkpoints (seq, hash kept outside the database) compared.")
    last_checkpoint: CheckpointOut | None = Field(description="The newest checkpoint.")


# -- deployments ----------------------------------------------------------------------------------


class EnvironmentOut(Out):
    name: str
    position: int
    required_approvals: int
    soak_minutes: int
    updated_at: datetime


class ApprovalOut(Out):
    id: uuid.UUID
    user_id: uuid.UUID
    decision: Literal["approve", "reject"]
    comment: str
    created_at: datetime


class DeploymentOut(Out):
    id: uuid.UUID
    release_id: uuid.UUID
    application: str
    version: str
    environment: str
    kind: Literal["deploy", "rollback"]
    status: DeploymentStatus
    requested_by: uuid.UUID
    reason: str | None
    override_freeze: bool
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
    blocking: list[BlockerOut]


class WeeklyOut(Out):
    day: str
    start: str
    end: str


class FreezeOut(Out):
    id: uuid.UUID
    environment: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    weekly: list[WeeklyOut] | None
    timezone: str | None
    reason: str
    created_by: uuid.UUID
    created_at: datetime
    active: bool


class OverviewEntryOut(Out):
    deployment_id: uuid.UUID
    release_id: uuid.UUID
    version: str
    title: str
    kind: Literal["deploy", "rollback"]
    status: DeploymentStatus
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


# -- health ---------------------------------------------------------------------------------------


class CheckOut(Out):
    status: Literal["ok", "down", "disabled"]
    latency_ms: float | None


class HealthChecksOut(Out):
    database: CheckOut
    cache: CheckOut


class HealthOut(Out):
    status: Literal["ok", "degraded", "unavailable"]
    version: str
    environment: str
    checks: HealthChecksOut
