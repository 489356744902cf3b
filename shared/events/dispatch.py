"""Dispatch: send what is due, at least once, never by two dispatchers at the same time.

A dispatcher claims due deliveries in a short transaction (`FOR UPDATE SKIP LOCKED`, then a lease:
`locked_until` and a `lease` id of its own), commits, sends each outside any transaction, and
records each outcome only while the lease is still its own. A second dispatcher running at the
same moment skips the locked rows and then the leased ones; a dispatcher that dies mid-send leaves
its deliveries to be claimed again once the lease ends (at least once, same `webhook-id`).

Two drivers: `wake()`, which the outbox registers to run after each commit that wrote deliveries
(it hands the work to one daemon thread, so the caller's answer waits for a queue put only), and
`POST /releases/events/dispatch`, which Cloud Scheduler calls every minute (`run`).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from shared.errors import Unavailable
from shared.events import delivery, formats, pubsub, rules
from shared.events.tables import DUE_STATUSES, deliveries, events, subscriptions
from shared.platform.clock import utcnow
from shared.platform.db import get_engine
from shared.platform.settings import get_settings

log = logging.getLogger(__name__)

BATCH = 5  # deliveries claimed at once: sent one after the other, so the lease covers them all
LEASE = timedelta(seconds=BATCH * delivery.TOTAL_TIMEOUT_S + 15)
TIME_BUDGET_S = 40.0  # one run stops claiming after this (Cloud Scheduler calls again within a minute)
PUBLISH_BATCH = 50
JITTER = 0.1


@dataclass
class Tally:
    delivered: int = 0
    failed: int = 0

    def answer(self, pending: int) -> dict[str, int]:
        return {"delivered": self.delivered, "failed": self.failed, "pending": pending}


def run(
    *,
    engine: sa.Engine | None = None,
    now: datetime | None = None,
    time_budget_s: float = TIME_BUDGET_S,
    allow_private: bool | None = None,
) -> dict[str, int]:
    """Publish what Pub/Sub still lacks, then send every due delivery (within the time budget):
    `{delivered, failed, pending}` (sent with a 2xx; attempts that failed; due or waiting to retry)."""
    engine = engine or get_engine()
    if allow_private is None:
        allow_private = get_settings().webhook_allow_private_targets
    started = time.monotonic()
    publish_pending(engine)
    tally = Tally()
    while time.monotonic() - started < time_budget_s:
        claimed = claim(engine, now=now or utcnow(), limit=BATCH)
        if not claimed:
            break
        # One subscription's deliveries go one after the other (a 410 stops the rest); different
        # subscriptions' at once, so one slow receiver does not hold up the others.
        by_subscription: dict[Any, list[Any]] = {}
        for job in claimed:
            by_subscription.setdefault(job.subscription_id, []).append(job)
        with ThreadPoolExecutor(max_workers=len(by_subscription), thread_name_prefix="events-send") as pool:
            for statuses in pool.map(
                lambda jobs: _send_all(engine, jobs, now, allow_private), by_subscription.values()
            ):
                tally.delivered += statuses.count("succeeded")
                tally.failed += sum(1 for s in statuses if s not in ("succeeded", None))
    with engine.connect() as conn:
        pending = conn.scalar(
            sa.select(sa.func.count())
            .select_from(deliveries.join(subscriptions))
            .where(deliveries.c.status.in_(DUE_STATUSES), subscriptions.c.active)
        )
    return tally.answer(int(pending or 0))


def _send_all(engine: sa.Engine, jobs: list[Any], now: datetime | None, allow_private: bool) -> list[str | None]:
    """Send one subscription's claimed deliveries in order; after a 410, give the rest back unsent."""
    statuses: list[str | None] = []
    for job in jobs:
        if statuses and statuses[-1] == "disabled":
            release(engine, job)
            continue
        outcome = send(job, allow_private=allow_private)
        status = record(engine, job, outcome, now=now or utcnow())
        statuses.append("disabled" if outcome.verdict == "disable" and status is not None else status)
    return [s if s != "disabled" else "failed" for s in statuses]


def claim(engine: sa.Engine, *, now: datetime, limit: int) -> list[Any]:
    """Lease up to `limit` due deliveries of active subscriptions to this caller, in one short
    transaction; each with what sending needs (url, secret, format, the event)."""
    lease = uuid.uuid4()
    with engine.begin() as conn:
        due = (
            sa.select(deliveries.c.id)
            .join(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
            .where(
                deliveries.c.status.in_(DUE_STATUSES),
                deliveries.c.next_attempt_at <= now,
                sa.or_(deliveries.c.locked_until.is_(None), deliveries.c.locked_until < now),
                subscriptions.c.active,
            )
            .order_by(deliveries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(of=deliveries, skip_locked=True)
        )
        ids = list(conn.scalars(due))
        if not ids:
            return []
        conn.execute(
            sa.update(deliveries).where(deliveries.c.id.in_(ids)).values(locked_until=now + LEASE, lease=lease)
        )
        return list(
            conn.execute(
                sa.select(
                    deliveries.c.id,
                    deliveries.c.attempt,
                    deliveries.c.lease,
                    deliveries.c.subscription_id,
                    subscriptions.c.url,
                    subscriptions.c.secret,
                    subscriptions.c.format,
                    events.c.id.label("event_id"),
                    events.c.body,
                    events.c.approvers,
                )
                .select_from(deliveries.join(subscriptions).join(events, events.c.id == deliveries.c.event_id))
                .where(deliveries.c.id.in_(ids))
                .order_by(deliveries.c.next_attempt_at)
            )
        )


def send(job: Any, *, allow_private: bool) -> delivery.Outcome:
    """One attempt: the event in the subscription's format, signed, with the event's id as `webhook-id`."""
    body = formats.render(job.format, job.body, approvers=job.approvers)
    return delivery.send(
        url=job.url, secret=job.secret, message_id=str(job.event_id), body=body, allow_private=allow_private
    )


def record(engine: sa.Engine, job: Any, outcome: delivery.Outcome, *, now: datetime) -> str | None:
    """Write the attempt's outcome if the lease is still ours; the delivery's new status (None: lease lost)."""
    attempt = job.attempt + 1
    decision = rules.after_attempt(attempt=attempt, response_status=outcome.status, now=now, jitter=JITTER)
    error = f"{outcome.error}: {outcome.detail}" if outcome.error and outcome.detail else outcome.error
    with engine.begin() as conn:
        updated = conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id == job.id, deliveries.c.lease == job.lease)
            .values(
                attempt=attempt,
                status=decision.status,
                response_status=outcome.status,
                error=error,
                duration_ms=outcome.duration_ms,
                next_attempt_at=decision.next_attempt_at,
                locked_until=None,
                lease=None,
                updated_at=now,
            )
        ).rowcount
        if updated and decision.disable_subscription:
            conn.execute(
                sa.update(subscriptions)
                .where(subscriptions.c.id == job.subscription_id)
                .values(active=False, disabled_reason="The receiver answered 410 Gone.", updated_at=now)
            )
    return decision.status if updated else None


def release(engine: sa.Engine, job: Any) -> None:
    """Give a claimed delivery back unsent."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id == job.id, deliveries.c.lease == job.lease)
            .values(locked_until=None, lease=None)
        )


def publish_pending(engine: sa.Engine, *, limit: int = PUBLISH_BATCH) -> int:
    """Publish events Pub/Sub still lacks, oldest first; stop at the first refusal (order kept). How many went."""
    if not get_settings().pubsub_topic_path:
        return 0
    sent = 0
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(events.c.seq, events.c.body)
            .where(events.c.published_at.is_(None))
            .order_by(events.c.seq)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            try:
                pubsub.publish(row.body)
            except Unavailable:
                log.warning("event not published yet", extra={"seq": row.seq})
                break
            conn.execute(sa.update(events).where(events.c.seq == row.seq).values(published_at=utcnow()))
            sent += 1
    return sent


# -- after commit: one daemon thread per instance ---------------------------------------------------

_wakeups: queue.Queue[None] = queue.Queue(maxsize=1)
_worker: threading.Thread | None = None
_worker_lock = threading.Lock()


def wake() -> None:
    """Have the instance's dispatcher thread run soon; returns at once (a wake-up already queued
    covers this one too)."""
    global _worker
    if _worker is None or not _worker.is_alive():
        with _worker_lock:
            if _worker is None or not _worker.is_alive():
                _worker = threading.Thread(target=_work, name="events-dispatch", daemon=True)
                _worker.start()
    with contextlib.suppress(queue.Full):
        _wakeups.put_nowait(None)


def _work() -> None:
    while True:
        _wakeups.get()
        try:
            run()
        except Exception:
            log.exception("events dispatch failed")
