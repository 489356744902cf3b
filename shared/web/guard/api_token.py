"""An `rm_` API token: its owner, never above the token's role nor the owner's own today."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from shared import lazy
from shared.auth import roles, tokens
from shared.auth.principal import Principal
from shared.errors import Unauthorized
from shared.platform.cache import get_cache
from shared.platform.clock import utcnow
from shared.platform.namespaces import API_TOKENS_NAMESPACE
from shared.web.guard.state import Prefetched, cached

if TYPE_CHECKING:
    from shared.auth import api_tokens, callers
else:  # loaded on first use (shared.lazy): `callers` on a cache miss; `api_tokens` for the last-used
    # stamp, which is due on a token's first request to an instance (so that request loads the data layer)
    callers = lazy.module("shared.auth.callers")
    api_tokens = lazy.module("shared.auth.api_tokens")


def principal(token: str, prefetch: Sequence[tuple[str, str]]) -> tuple[Principal, Prefetched]:
    parts = tokens.parse_api_token(token)
    found = get_cache().fetch(API_TOKENS_NAMESPACE, parts.prefix, lambda: callers.api_token_state(parts.prefix))
    if found is None or not tokens.secret_matches(parts.secret, found["token_hash"]):
        raise Unauthorized("The API token is not valid.", code="invalid_token")
    if found["revoked_at"] is not None:
        raise Unauthorized("The API token was revoked.", code="token_revoked")
    expires_at = datetime.fromisoformat(str(found["expires_at"]))
    if expires_at <= utcnow():
        raise Unauthorized("The API token has expired.", code="token_expired")
    owner = str(found["user_id"])
    state, prefetched = cached(owner, lambda: callers.user_state(owner), prefetch)
    if state is None or not state["is_active"]:
        raise Unauthorized("The token's owner is deactivated.", code="account_inactive")
    api_tokens.touch_last_used(str(found["id"]))
    cap = found["role"]
    return (
        Principal(
            uuid.UUID(owner),
            state["email"],
            roles.lower_of(cap, state["role"]),  # a token never does more than its owner may do today
            token_id=uuid.UUID(str(found["id"])),
            credential="api_token",
            token_expires_at=expires_at,
            grants=roles.grants_from(state["role"], state.get("bindings", ()), cap=cap),
            teams=tuple(state.get("teams", ())),
        ),
        prefetched,
    )
