"""Base classes and common field types of the request and response models."""

import operator
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field


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


def _a_link(value: str) -> str:
    """A link a person can open: http(s), with a host, that parses (not `http://[`)."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as error:
        raise ValueError(f"not a URL: {error}") from None
    if not host or any(c.isspace() for c in value):
        raise ValueError("not a URL: it needs a host, and no spaces")
    return value


# A link to something outside (a log, an incident), kept as given.
WebLink = Annotated[str, Field(max_length=2000, pattern=r"^https?://"), AfterValidator(_a_link)]


class Strict(BaseModel):
    """A request body or query: unknown fields are refused.

    Validators are built on a model's first use rather than at import: an instance serves only a
    few routes before it is recycled, and the import is on every cold start.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)


class Out(BaseModel):
    """A response: published in the OpenAPI documents (and checked there by the fuzzing against
    real responses), never used to serialise, which stays a plain dict built by a `Shape`.
    Responses may gain fields; clients should ignore the ones they don't know. Built when a
    document is, never at import."""

    model_config = ConfigDict(defer_build=True)


class Shape:
    """A response model's fields picked from a row (anything with those attributes), in the model's
    order: the public dict derives from the model, so the two cannot drift. The fields a row does
    not hold (`given`) are passed to the call as keywords; they replace what the row holds, too."""

    __slots__ = ("_get", "_picked", "_template")

    def __init__(self, model: type[Out], *, given: tuple[str, ...] = ()) -> None:
        names = tuple(model.model_fields)
        unknown = set(given) - set(names)
        if unknown:
            raise ValueError(f"{model.__name__} has no fields {sorted(unknown)}")
        self._picked = tuple(name for name in names if name not in given)
        self._get = operator.attrgetter(*self._picked)
        self._template = dict.fromkeys(names)

    def __call__(self, row: Any, /, **given: Any) -> dict[str, Any]:
        values = self._get(row)
        if len(self._picked) == 1:
            values = (values,)
        if not given and len(self._picked) == len(self._template):
            return dict(zip(self._picked, values, strict=False))
        found = self._template.copy()
        found.update(zip(self._picked, values, strict=False))
        found.update(given)
        return found
