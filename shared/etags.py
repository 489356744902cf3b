"""Entity tags: a strong validator for exactly one JSON representation."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pydantic_core

from shared.errors import PreconditionFailed


def etag(representation: Any) -> str:
    """The tag of this representation (the same bytes the response body carries)."""
    return tag(pydantic_core.to_json(representation))


def tag(body: bytes) -> str:
    """The tag of a representation already serialised (`pydantic_core.to_json`) as `body`."""
    return hashlib.sha256(body).hexdigest()[:32]


def check(current: Any, if_match: Callable[[str], bool] | None) -> None:
    """412 `stale_etag` when the client sent If-Match and it names another version."""
    if if_match is not None and not if_match(etag(current)):
        raise PreconditionFailed("The resource changed since you read it (If-Match does not match).", code="stale_etag")
