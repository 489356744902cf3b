"""A login's access token (a JWT we issued): the user it names, while their credentials version holds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shared import lazy
from shared.auth.principal import Principal
from shared.errors import Unauthorized
from shared.web.guard.state import Prefetched, cached, person

if TYPE_CHECKING:
    from shared.auth import callers
else:  # the database behind the cache, loaded on the first miss (shared.lazy)
    callers = lazy.module("shared.auth.callers")


def principal(claims: dict[str, Any], prefetch: Sequence[tuple[str, str]]) -> tuple[Principal, Prefetched]:
    try:
        user_id = uuid.UUID(claims["sub"])
    except ValueError:
        raise Unauthorized("The access token is not valid.", code="invalid_token") from None
    state, prefetched = cached(str(user_id), lambda: callers.user_state(str(user_id)), prefetch)
    if state is None or not state["is_active"]:
        raise Unauthorized("The account is deactivated.", code="account_inactive")
    if claims.get("ver") != state["auth_version"]:
        raise Unauthorized("The session ended (password changed); log in again.", code="token_revoked")
    return person(user_id, state), prefetched
