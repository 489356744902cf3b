"""Event rules as plain functions: which audited change yields which events, who wants them, and
when a failed delivery is tried again (API.md, "Events and subscriptions")."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.errors import FieldError, Invalid

EVENT_TYPES = (
    "release.created",
    "release.ready",
    "release.cancelled",
    "deployment.requested",
    "deployment.pending_approval",
    "deployment.stage_skipped",
    "deployment.approved",
    "deployment.rejected",
    "deployment.started",
    "deployment.succeeded",
    "deployment.failed",
    "deployment.cancelled",
    "deployment.rolled_back",
    "deployment.expired",
    "freeze.created",
    "freeze.deleted",
    "environment.locked",
    "environment.unlocked",
    "application.updated",
    "environment.updated",
    "drift.detected",
)
ALL = "*"
FORMATS = ("standard", "slack", "google_chat")

# Audit actions that map one to one.
_SAME = {
    "release.created": "release.created",
    "release.finalized": "release.ready",
    "release.cancelled": "release.cancelled",
    "deployment.requested": "deployment.requested",
    "deployment.rollback_requested": "deployment.requested",  # a rollback is a deployment of kind `rollback`
    "deployment.approved": "deployment.approved",
    "deployment.rejected": "deployment.rejected",
    "deployment.cancelled": "deployment.cancelled",
    "deployment.rolled_back": "deployment.rolled_back",
    "deployment.expired": "deployment.expired",
    "freeze.created": "freeze.created",
    "freeze.deleted": "freeze.deleted",
    "environment.locked": "environment.locked",
    "environment.unlocked": "environment.unlocked",
    # A change of a path or a policy: what the gates ask from now on.
    "application.updated": "application.updated",
    "environment.updated": "environment.updated",
    # An image deployed around the gates (shared/deployments/drift.py).
    "drift.detected": "drift.detected",
}
# `deployment.status_changed`: the status reached → the event.
_STATUS_EVENTS = {
    "in_progress": "deployment.started",
    "succeeded": "deployment.succeeded",
    "failed": "deployment.failed",
    "cancelled": "deployment.cancelled",
}


def events_for(action: str, data: Mapping[str, Any] | None = None) -> list[str]:
    """The event types an audited action yields (none for sign-ins, tokens, edits of drafts...).

    `data` is what the audit record holds: a request's `status`, a status change's `to`."""
    data = data or {}
    if action == "deployment.status_changed":
        event = _STATUS_EVENTS.get(str(data.get("to")))
        return [event] if event else []
    event = _SAME.get(action)
    if event is None:
        return []
    events = [event]
    if action == "deployment.requested" and data.get("status") == "pending_approval":
        events.append("deployment.pending_approval")
    if action == "deployment.requested" and data.get("skipped_stages"):
        events.append("deployment.stage_skipped")  # the hotfix lane: someone skipped a stage, with a reason
    if action == "release.created" and data.get("status") == "ready":
        events.append("release.ready")  # created ready: there is no separate finalize
    return events


# -- subscriptions ----------------------------------------------------------------------------------


def check_event_filter(events: Sequence[str]) -> list[str]:
    """A subscription's `events`: `["*"]` or known types (deduplicated, in catalogue order); else 422."""
    if not events:
        raise Invalid('Name at least one event type, or "*".', errors=[FieldError("events", "must not be empty")])
    if ALL in events:
        if len(events) > 1:
            raise Invalid('"*" stands alone.', errors=[FieldError("events", '"*" cannot be combined with types')])
        return [ALL]
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise Invalid(
            f"Unknown event type: {', '.join(unknown)}.",
            code="unknown_event_type",
            errors=[FieldError("events", f"unknown event type {name!r}") for name in unknown],
        )
    return [t for t in EVENT_TYPES if t in events]


def matches(
    *, events: Sequence[str], applications: Sequence[str] | None, event_type: str, application: str | None
) -> bool:
    """Does a subscription with these filters want this event?

    An event about no application in particular (a freeze covers every application of its
    environment) passes an `applications` filter: the teams behind those applications need it."""
    if ALL not in events and event_type not in events:
        return False
    return not applications or application is None or application in applications


def subscribers(subscriptions: Iterable[Any], *, event_type: str, application: str | None) -> list[Any]:
    """The active subscriptions (objects with `events`, `applications`, `is_active`) that want the event."""
    return [
        s
        for s in subscriptions
        if getattr(s, "is_active", True)
        and matches(events=s.events, applications=s.applications, event_type=event_type, application=application)
    ]


# -- retries ----------------------------------------------------------------------------------------

# After attempt n fails, attempt n+1 comes RETRY_DELAYS[n-1] later; after the last, the delivery has failed.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


def next_attempt(
    attempt: int, now: datetime, *, jitter: float = 0.0, rand: Callable[[], float] = random.random
) -> datetime | None:
    """When to try again after attempt number `attempt` (1 = the first) failed at `now`; None: give up.

    `jitter` spreads retries by up to that fraction of the delay either way (0.1 = ±10 %), so a
    receiver that was down is not hit by every delivery in the same second when it comes back."""
    if attempt < 1:
        raise ValueError("attempts are numbered from 1")
    if attempt > len(RETRY_DELAYS):
        return None
    delay = RETRY_DELAYS[attempt - 1]
    if jitter:
        delay *= 1 + jitter * (2 * rand() - 1)
    return now + delay


Verdict = Literal["succeeded", "retry", "disable"]
DeliveryStatus = Literal["pending", "succeeded", "failed", "retrying"]


def verdict(response_status: int | None) -> Verdict:
    """What an attempt's answer means: 2xx succeeded; 410 Gone: the receiver wants no more (disable
    the subscription); anything else, a timeout or a connection error (None): try again."""
    if response_status is not None and 200 <= response_status < 300:
        return "succeeded"
    if response_status == 410:
        return "disable"
    return "retry"


@dataclass(frozen=True)
class Decision:
    """What to record after an attempt."""

    status: DeliveryStatus
    next_attempt_at: datetime | None
    disable_subscription: bool = False


def after_attempt(*, attempt: int, response_status: int | None, now: datetime, jitter: float = 0.0) -> Decision:
    """The delivery's new status once attempt number `attempt` answered `response_status` (None: no answer)."""
    outcome = verdict(response_status)
    if outcome == "succeeded":
        return Decision("succeeded", None)
    if outcome == "disable":
        return Decision("failed", None, disable_subscription=True)
    later = next_attempt(attempt, now, jitter=jitter)
    return Decision("retrying" if later else "failed", later)
