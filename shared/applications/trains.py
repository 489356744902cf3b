"""Release trains as plain functions: a stage's timetable is a cron expression read in an IANA time
zone ("0 10 * * 1-5" in Europe/Berlin: 10:00 on weekdays, 09:00 UTC in winter and 08:00 in summer).

cronsim evaluates it as Debian's cron does, so across a change of the clocks a time that does not
exist that night (02:30 in spring) departs when the clock jumps (03:00), and one that happens twice
(in autumn) departs once. A train waits `BOARDING` for the gates after its time (something else
still under way, a lock being lifted), then leaves for its next departure without what could not
board."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

BOARDING = timedelta(minutes=15)


def check_schedule(schedule: str) -> str:
    """A five-field cron expression as given, or ValueError saying what is wrong with it."""
    if len(schedule.split()) != 5:
        raise ValueError("a cron expression has five fields: minute hour day-of-month month day-of-week")
    try:
        CronSim(schedule, datetime(2026, 1, 1, tzinfo=UTC))
    except CronSimError as error:
        raise ValueError(f"not a cron expression: {error}") from None
    return schedule


def departure(schedule: str, timezone: str, now: datetime) -> datetime | None:
    """The train's latest departure at or before `now` (its minute included), in UTC, while it still
    boards (within `BOARDING` of it); None when it has left."""
    local = now.astimezone(ZoneInfo(timezone)).replace(second=0, microsecond=0)
    # cronsim's reverse iteration starts before its start: one second past the minute includes it.
    last = next(CronSim(schedule, local + timedelta(seconds=1), reverse=True), None)
    if last is None:
        return None
    left = last.astimezone(UTC)
    return left if now - left < BOARDING else None


def next_departure(schedule: str, timezone: str, now: datetime) -> datetime | None:
    """The train's next departure after `now`, in UTC (None: none in the next 50 years)."""
    local = now.astimezone(ZoneInfo(timezone)).replace(second=0, microsecond=0)
    following = next(CronSim(schedule, local), None)
    return following.astimezone(UTC) if following is not None else None


def promotion_time(
    *, live_since: datetime, soak_minutes: int, schedule: str | None, timezone: str | None, now: datetime
) -> datetime | None:
    """When a release live in the stage before since `live_since` is promoted, if now: at once once
    it has soaked (a stage without a train), else at the train's departure it had soaked in time for
    (what soaks after 10:00 waits for the next train); None: not now."""
    at = now if schedule is None else departure(schedule, timezone or "UTC", now)
    if at is None or live_since + timedelta(minutes=soak_minutes) > at:
        return None
    return at
