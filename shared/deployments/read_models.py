"""The query and answer models of the deployments' reading routes: the matrix, the approvals
inbox, the overview, the timeline, the metrics, a comparison, attestations and drift observations.

Kept apart from the queries that fill them, so that declaring the routes (`views.py`, at a cold
start) loads no SQL: the services are imported by the first request that calls them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.deployments import rules
from shared.deployments.schemas import DeploymentOut, Direction, RuleProgressOut
from shared.models import Out, Strict
from shared.names import SLUG_PATTERN
from shared.pagination import PageQuery
from shared.releases.schemas import Version

# -- attestations -----------------------------------------------------------------------------------


class AttestationQuery(PageQuery):
    digest: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$", description="Of this image.")
    environment: str | None = Field(default=None, pattern=SLUG_PATTERN, description="For this environment.")
    deployment_id: uuid.UUID | None = Field(default=None, description="Of this deployment's images.")


class AttestationOut(Out):
    id: uuid.UUID
    deployment_id: uuid.UUID
    environment: str
    digest: str
    resource_uri: str = Field(description="The image as Binary Authorization names it: `https://HOST/PATH@sha256:...`.")
    status: Literal["pending", "attested", "abandoned"]
    payload: str | None = Field(description="The signed bytes, base64: the simple-signing JSON document.")
    signature: str | None = Field(description="ECDSA P-256 SHA-256 (DER), base64, made by the attestor's KMS key.")
    public_key_id: str | None = Field(description="The attestor's key, as Binary Authorization knows it.")
    occurrence: str | None = Field(description="The Container Analysis occurrence that holds it.")
    attempts: int
    error: str | None = Field(description="Why the last attempt failed, or why it was abandoned.")
    created_at: datetime
    attested_at: datetime | None


# -- compare ----------------------------------------------------------------------------------------


class CompareQuery(Strict):
    application: str = Field(pattern=SLUG_PATTERN)
    to: Version = Field(description="The candidate's version.")
    from_: Version | None = Field(
        default=None, alias="from", description="The version compared against (or give `environment`)."
    )
    environment: str | None = Field(
        default=None, max_length=63, description="Compare against what is live there (or give `from`)."
    )

    @model_validator(mode="after")
    def _one_base(self) -> CompareQuery:
        if (self.from_ is None) == (self.environment is None):
            raise ValueError("give either from (a version) or environment (what is live there)")
        return self


class EndOut(Out):
    release_id: uuid.UUID
    version: str
    commit_sha: str | None


class BetweenOut(Out):
    id: uuid.UUID
    version: str
    title: str
    notes: str
    status: str
    commit_sha: str | None


class CompareOut(Out):
    application: str
    base: EndOut | None = Field(description="What is compared against (null: nothing live there yet).")
    head: EndOut
    direction: Direction = Field(
        description="forward: head is newer (deploying it brings `releases`); backward: older (going back "
        "removes `releases`, a rollback); same."
    )
    releases: list[BetweenOut] = Field(description="The releases in between, newest first, the head's side included.")
    commit_range: str | None = Field(description="`base...head` commits, where both are known.")
    compare_url: str | None = Field(description="The repository host's compare view of that range (null: unknown).")


# -- drift ------------------------------------------------------------------------------------------


class PushMessage(BaseModel):
    """Pub/Sub's message, as its push sends it: each field also in snake_case (`message_id`,
    `publish_time`), and more as Pub/Sub adds them (`orderingKey`): what is not read is ignored."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    data: str = Field(max_length=1_000_000, description="The log entry, base64.")
    message_id: str = Field(alias="messageId", max_length=200)
    attributes: dict[str, str] | None = None
    publish_time: str | None = Field(default=None, alias="publishTime")


class PushIn(BaseModel):
    """What a Pub/Sub push subscription sends (with `deliveryAttempt` where dead-lettering is on)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    message: PushMessage
    subscription: str = Field(max_length=300)


class ObservationOut(Out):
    image: str
    digest: str | None
    verdict: Literal["matched", "drift"] = Field(
        description="matched (a deployment that passed the gates ran it) or drift."
    )
    deployment_id: uuid.UUID | None


class ObservationsOut(Out):
    platform: Literal["cloud_run", "gke"] | None
    resource: str | None
    application: str | None
    environment: str | None
    observations: list[ObservationOut] = Field(description="Empty: not a deploy of a labelled resource.")


# -- inbox ------------------------------------------------------------------------------------------

SUMMARY_CHARACTERS = 280


class ApprovalRequestQuery(PageQuery):
    application: str | None = Field(default=None, pattern=SLUG_PATTERN, description="Only this application.")
    environment: str | None = Field(default=None, max_length=63, description="Only this environment.")


class ReleaseBriefOut(Out):
    id: uuid.UUID
    title: str
    summary: str = Field(description=f"The first paragraph of the notes, at most {SUMMARY_CHARACTERS} characters.")


class RefusalOut(Out):
    code: str = Field(description="The code the decision would be refused with (Errors).")
    detail: str


class ApprovalRequestOut(Out):
    deployment: DeploymentOut
    release: ReleaseBriefOut
    still_needed: list[RuleProgressOut] = Field(description="The deployment's approval rules not yet met.")
    may_approve: bool = Field(description="true: the caller may approve it now.")
    may_reject: bool = Field(
        description="true: the caller may reject it now (also when their approval is not needed, "
        "`approval_not_needed`: their group's rules are met)."
    )
    refusal: RefusalOut | None = Field(description="Why the caller may not approve it (null: they may).")


# -- matrix -----------------------------------------------------------------------------------------


class MatrixQuery(PageQuery):
    application: str | None = Field(default=None, pattern=SLUG_PATTERN, description="Only this application.")
    team: str | None = Field(
        default=None, pattern=SLUG_PATTERN, description="Only the applications this team holds a binding on."
    )


class CellEntryOut(Out):
    deployment_id: uuid.UUID
    release_id: uuid.UUID
    version: str
    kind: rules.Kind
    status: rules.Status
    requested_by: uuid.UUID
    requested_by_name: str | None = Field(
        description="The requester's display name, else email, or the rule's name (null: unknown)."
    )
    created_at: datetime
    finished_at: datetime | None


class CellOut(Out):
    live: CellEntryOut | None = Field(description="The latest success there (null: nothing live).")
    latest: CellEntryOut | None = Field(description="The latest attempt, where it is not the live one.")


class MatrixRowOut(Out):
    application: str
    display_name: str
    cells: dict[str, CellOut] = Field(description="By environment, in the catalogue's order.")


# -- metrics ----------------------------------------------------------------------------------------


class MetricsQuery(Strict):
    application: str | None = Field(default=None, pattern=SLUG_PATTERN)
    environment: str = Field(default="production", max_length=63)
    days: int = Field(default=30, ge=1, le=365)


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


class SkipsOut(Out):
    rate: float | None
    skips: int = Field(description="Finished deploys whose request skipped a stage (the hotfix lane).")
    deployments: int


class AutomationOut(Out):
    rate: float | None = Field(description="Promoted deploys over all finished deploys.")
    promoted: int = Field(description="Finished deploys requested by auto-promotion or a release train.")
    rolled_back: int = Field(description="Finished rollbacks requested by a stage's auto-rollback.")
    deployments: int


class DriftOut(Out):
    detected: int = Field(description="Images deployed there around the gates (drift.detected) in the window.")


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
    stage_skips: SkipsOut = Field(description="How often the hotfix lane was taken (not a DORA figure).")
    automation: AutomationOut = Field(description="What stages' rules requested (not a DORA figure).")
    drift: DriftOut = Field(description="Deploys observed around the gates (not a DORA figure).")


# -- overview ---------------------------------------------------------------------------------------


class OverviewQuery(Strict):
    application: str = Field(pattern=SLUG_PATTERN)


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


# -- timeline ---------------------------------------------------------------------------------------

Kind = Literal["deployment", "rollback", "lock", "freeze", "policy", "drift"]


MAX_WINDOW = timedelta(days=366)


class TimelineQuery(PageQuery):
    from_: AwareDatetime | None = Field(
        default=None, alias="from", description="The window's start [default: 24 hours before `to`]."
    )
    to: AwareDatetime | None = Field(default=None, description="The window's end [default: now].")
    environment: str | None = Field(default=None, max_length=63, description="Only what happened there.")
    application: str | None = Field(default=None, pattern=SLUG_PATTERN, description="Only this application's.")
    team: str | None = Field(
        default=None, pattern=SLUG_PATTERN, description="Only the applications this team holds a binding on."
    )

    @model_validator(mode="after")
    def _window(self) -> TimelineQuery:
        if self.from_ is not None and self.to is not None:
            if self.from_ >= self.to:
                raise ValueError("from must be before to")
            if self.to - self.from_ > MAX_WINDOW:
                raise ValueError("the window may be at most 366 days")
        return self


class TimelineEntryOut(Out):
    seq: int = Field(description="The audit event's place in the log.")
    occurred_at: datetime
    kind: Kind
    action: str = Field(description="The audit action, e.g. `deployment.status_changed`.")
    actor: str
    actor_name: str | None = Field(
        description="A person's display name, else email, or a stage rule's name (`rule:...` actors); null: other."
    )
    application: str | None = Field(description="null: it holds every application (a lock or freeze of all).")
    environment: str | None
    version: str | None
    deployment_id: uuid.UUID | None
    release_id: uuid.UUID | None
    data: dict[str, Any] = Field(description="What the audit record holds (a status move's from and to, a reason).")
