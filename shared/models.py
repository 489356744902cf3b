"""Base classes and common field types of the request models."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict


def _in_utc(value: datetime) -> datetime:
    """Store instants in UTC: PostgreSQL refuses offsets beyond ±15:59 that RFC 3339 allows (+17:26)."""
    try:
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError("out of the range of dates a timestamp can hold") from None


# An instant with its offset (RFC 3339), kept in UTC.
Timestamp = Annotated[AwareDatetime, AfterValidator(_in_utc)]
# The same where an offset may be left out (then it is UTC).
LenientTimestamp = Annotated[datetime, AfterValidator(_in_utc)]


class Strict(BaseModel):
    """A request body or query: unknown fields are refused.

    Validators are built on a model's first use rather than at import: an instance serves only a
    few routes before it is recycled, and the import is on every cold start.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)
