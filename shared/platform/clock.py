"""Time, injectable: services take `now` so tests can stand on either side of a boundary."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)
