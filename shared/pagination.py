"""Keyset pagination: opaque cursors and the `Link: rel="next"` header."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from pydantic import Field

from shared.errors import FieldError, Invalid
from shared.models import Strict


class PageQuery(Strict):
    """`?limit=` (1..100, default 20) and `?cursor=`; subclass it to add filters."""

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=512)


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor for the position after a row with these sort-key values."""
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, size: int) -> list[Any]:
    """The sort-key values inside a cursor, or 422 when it is not one of ours."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != size:
        raise Invalid("The cursor is not valid for this list.", errors=[FieldError("cursor", "not a valid cursor")])
    return values


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
