"""What holds deployments to an environment at a moment, as plain functions over plain data: freeze
windows (one-off, or weekly in a time zone) and locks ("stop the line")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Weekday, ...] = get_args(Weekday)


# -- freeze windows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freeze:
    """A one-off window (`starts_at`..`ends_at`) or weekly wall-clock windows in a time zone."""

    environment: str | None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    weekly: tuple[dict[str, str], ...] = ()
    timezone: str | None = None
    reason: str = ""
    id: Any = None
    # None: every application.
    application: str | None = None
    # Releases of kind `fix` pass it.
    allows_fixes: bool = False

    def applies_to(self, environment: str, application: str | None = None) -> bool:
        """Does the window hold deployments to `environment` (of `application`; None: of any)?"""
        if self.application is not None and application is not None and self.application != application:
            return False
        return self.environment is None or self.environment == environment

    def covers(self, moment: datetime) -> bool:
        """Is `moment` (timezone-aware) inside this window? Weekly windows follow daylight saving."""
        if not self.weekly:
            assert self.starts_at is not None and self.ends_at is not None
            return self.starts_at <= moment < self.ends_at
        local = moment.astimezone(ZoneInfo(self.timezone or "UTC"))
        return any(_weekly_covers(entry, local) for entry in self.weekly)


def _parse_clock(text: str) -> time:
    return time(23, 59, 59, 999999) if text == "24:00" else time.fromisoformat(text)


def _weekly_covers(entry: dict[str, str], local: datetime) -> bool:
    """`{day, start, end}` in local wall-clock time; an end at or before the start runs past midnight."""
    day = DAYS.index(entry["day"])
    start, end = _parse_clock(entry["start"]), _parse_clock(entry["end"])
    now, today = local.time().replace(tzinfo=None), local.weekday()
    if start < end:
        return today == day and start <= now < end
    # Overnight: from `start` on `day` until `end` on the next day.
    return (today == day and now >= start) or (today == (day + 1) % 7 and now < end)


def active_freezes(
    freezes: list[Freeze], environment: str, moment: datetime, application: str | None = None
) -> list[Freeze]:
    """The windows that cover `environment` (for `application`) at `moment`."""
    return [f for f in freezes if f.applies_to(environment, application) and f.covers(moment)]


# -- locks ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lock:
    """Nothing new starts in `environment` (for `application`; None: every one) while this holds:
    until someone unlocks it, or `unlock_at` passes. `locked_by` names the person as refusals show it."""

    id: Any
    environment: str
    reason: str
    locked_by: str
    locked_at: datetime
    application: str | None = None
    unlock_at: datetime | None = None

    def holds(self, environment: str, moment: datetime, application: str | None = None) -> bool:
        if self.environment != environment:
            return False
        if self.application is not None and application is not None and self.application != application:
            return False
        return self.unlock_at is None or moment < self.unlock_at


def active_locks(
    locks: Iterable[Lock], environment: str, moment: datetime, application: str | None = None
) -> list[Lock]:
    """The locks that hold `environment` (for `application`) at `moment`."""
    return [lock for lock in locks if lock.holds(environment, moment, application)]


# -- deploy windows --------------------------------------------------------------------------------

OutsideWindow = Literal["refuse", "wait"]


@dataclass(frozen=True)
class DeployWindows:
    """When work may start in an environment: weekly wall-clock windows in a time zone (the
    counterpart of freezes). Outside them a request is refused (`refuse`), or accepted and its
    start held until a window opens (`wait`)."""

    weekly: tuple[dict[str, str], ...]
    timezone: str
    outside: OutsideWindow = "refuse"

    def open_at(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone))
        return any(_weekly_covers(entry, local) for entry in self.weekly)

    def describe(self) -> str:
        spans = ", ".join(f"{w['day']} {w['start']}-{w['end']}" for w in self.weekly)
        return f"{spans} ({self.timezone})"


# -- overrides --------------------------------------------------------------------------------------


def override_scopes(covering: Iterable[Freeze] | Iterable[Lock], application: str) -> set[str | None]:
    """Where an admin must be one to override the windows (or locks) `covering` a deployment of `application`
    (None: organisation-wide): a window for every application is the organisation's, and only an
    organisation-wide admin lifts it; a window of this application alone, its admin."""
    return {f.application for f in covering} or {application}
