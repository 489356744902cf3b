"""Keyset pagination: opaque cursors and the `Link: rel="next"` header."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import uuid
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

import pydantic
from pydantic import AwareDatetime, Field, Strict

from shared.errors import BadRequest, FieldError
from shared.models import Strict as StrictModel

# The shapes a cursor's sort-key values may take; a list names its own, e.g. `(Timestamp, Id)`.
Timestamp = AwareDatetime
Id = uuid.UUID
# A bigint column's range: a bigger number would fail in the database, not here.
Position = Annotated[int, Strict(), Field(ge=-(2**63), lt=2**63)]


class PageQuery(StrictModel):
    """`?limit=` (1..100, default 20) and `?cursor=`; subclass it to add filters."""

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=512)


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor for the position after a row with these sort-key values."""
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


@functools.cache
def _adapter(shape: tuple[Any, ...]) -> pydantic.TypeAdapter[tuple[Any, ...]]:
    return pydantic.TypeAdapter(tuple[shape])  # type: ignore[valid-type]


def decode_cursor(cursor: str, shape: tuple[Any, ...]) -> tuple[Any, ...]:
    """The sort-key values inside a cursor, each of the type `shape` names, or 400 `invalid_cursor`
    when it is not one of this list's cursors (nothing unchecked ever reaches a query)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return _adapter(shape).validate_json(raw)
    except (ValueError, binascii.Error):  # pydantic.ValidationError is a ValueError
        raise BadRequest(
            "The cursor is not one this list gave out; start again without it.",
            code="invalid_cursor",
            errors=[FieldError("cursor", "not a valid cursor for this list")],
        ) from None


def page(items: Sequence[Any], limit: int, key: Any) -> tuple[list[Any], str | None]:
    """Cut `items` (fetched with limit + 1) to `limit` and make the next cursor from the last kept."""
    if len(items) <= limit:
        return list(items), None
    kept = list(items[:limit])
    return kept, encode_cursor(key(kept[-1]))


def link_header(base_url: str, args: dict[str, str], next_cursor: str | None) -> dict[str, str]:
    """`Link: <url>; rel="next"` when there is a next page."""
    if next_cursor is None:
        return {}
    query = urlencode({**{k: v for k, v in args.items() if k != "cursor"}, "cursor": next_cursor})
    return {"Link": f'<{base_url}?{query}>; rel="next"'}
