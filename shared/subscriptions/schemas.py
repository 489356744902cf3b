"""Subscriptions and deliveries as the API takes and shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from shared.events.targets import MAX_URL_LENGTH
from shared.models import Out, Strict

Format = Literal["standard", "slack", "google_chat"]
ApplicationName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
EventName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL_LENGTH)]


class SubscriptionIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.slack.com/services/T000/B000/XXXX",
                    "events": ["deployment.pending_approval"],
                    "applications": ["checkout"],
                    "format": "slack",
                    "description": "Production approval requests for #checkout-releases",
                }
            ]
        },
    )

    url: Url
    events: list[EventName] = Field(min_length=1, max_length=20, description='Event types, or ["*"].')
    applications: list[ApplicationName] | None = Field(
        default=None, min_length=1, max_length=50, description="Only events of these applications (null: all)."
    )
    format: Format = "standard"
    description: str = Field(default="", max_length=500)


class SubscriptionPatch(Strict):
    url: Url | None = None
    events: list[EventName] | None = Field(default=None, min_length=1, max_length=20)
    applications: list[ApplicationName] | None = Field(default=None, min_length=1, max_length=50)
    format: Format | None = None
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = Field(default=None, description="true: deliver again after a 410 disabled it.")


class SubscriptionOut(Out):
    id: uuid.UUID
    url: str
    events: list[str]
    applications: list[str] | None
    format: Format
    description: str
    active: bool
    disabled_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class SubscriptionCreatedOut(SubscriptionOut):
    secret: str | None = Field(
        description="`whsec_` + base64: verifies every delivery's signature. Shown only in the first response; "
        "null when this answer replays an earlier request with the same Idempotency-Key."
    )
    note: str | None = Field(
        default=None, description="On an Idempotency-Key replay: why `secret` is null and what to do."
    )


class DeliveryOut(Out):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    attempt: int
    status: Literal["pending", "succeeded", "failed", "retrying"]
    response_status: int | None
    error: str | None
    duration_ms: int | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DispatchOut(Out):
    delivered: int = Field(description="Deliveries answered with a 2xx in this run.")
    failed: int = Field(description="Attempts that failed in this run (to be retried, or given up).")
    pending: int = Field(description="Deliveries still due or waiting for a retry.")
    expired: int = Field(description="Deployments this run ended as expired (nobody moved them in time).")
    promoted: int = Field(description="Deployments this run requested for auto-promoting stages (trains included).")
    attested: int = Field(description="Images this run attested for Binary Authorization (what was still pending).")
