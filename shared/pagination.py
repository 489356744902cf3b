"""Keyset pagination: opaque cursors and the `Link: rel="next"` header."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

import pydantic
from pydantic import AwareDatetime, Field, Strict

from shared.errors import BadRequest, FieldError
from shared.models import Strict as StrictModel

if TYPE_CHECKING:  # SQLAlchemy is imported by the first list read, not by every start (web imports this)
    import sqlalchemy as sa

    from shared.platform.work import UnitOfWork

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


@dataclass(frozen=True)
class Keyset:
    """A list's order: its sort-key columns (the last one unique, so the order is total), the types
    its cursor holds (`shape`, one per column) and whether it runs newest (highest) first."""

    columns: tuple[sa.ColumnElement[Any], ...]
    shape: tuple[Any, ...]
    descending: bool = False

    def position(self, row: Any) -> list[Any]:
        """The cursor values of `row` (timestamps in ISO 8601)."""
        values = [row._mapping[column] for column in self.columns]
        return [v.isoformat() if isinstance(v, datetime) else v for v in values]


def keyset_page(
    source: sa.Connection | UnitOfWork,
    query: sa.Select[Any],
    keyset: Keyset,
    *,
    limit: int,
    cursor: str | None = None,
    after: Sequence[Any] | None = None,
) -> tuple[list[Any], str | None]:
    """One page of `query`'s rows in the keyset's order, after `cursor` (or a position already
    decoded, `after`): it reads `limit + 1` rows, keeps `limit`, and makes the next cursor from the
    last row kept (None on the last page). Given a unit of work, the read is `work.read`'s."""
    import sqlalchemy as sa

    descending = keyset.descending
    query = query.order_by(*(c.desc() if descending else c for c in keyset.columns)).limit(limit + 1)
    if cursor:
        after = decode_cursor(cursor, keyset.shape)
    if after is not None:
        key = keyset.columns[0] if len(keyset.columns) == 1 else sa.tuple_(*keyset.columns)
        value = after[0] if len(keyset.columns) == 1 else sa.tuple_(*after)
        query = query.where(key < value if descending else key > value)
    rows = source.execute(query).all() if isinstance(source, sa.Connection) else source.read(query)
    return page(rows, limit, keyset.position)


def link_header(base_url: str, args: dict[str, str], next_cursor: str | None) -> dict[str, str]:
    """`Link: <url>; rel="next"` when there is a next page."""
    if next_cursor is None:
        return {}
    query = urlencode({**{k: v for k, v in args.items() if k != "cursor"}, "cursor": next_cursor})
    return {"Link": f'<{base_url}?{query}>; rel="next"'}
