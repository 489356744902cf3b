"""The caller's state as the guard reads it: through the cache, with the request's prefetched
entries in the same round trip, and a person's grants."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from shared.auth import roles
from shared.auth.principal import Principal
from shared.platform.cache import Found, get_cache
from shared.platform.namespaces import USERS_NAMESPACE

# Cache reads made together with the caller's state, for the request's unit of work to use.
Prefetched = dict[tuple[str, str], Found]


def cached(
    key: str, load: Callable[[], dict[str, Any] | None], prefetch: Sequence[tuple[str, str]]
) -> tuple[dict[str, Any] | None, Prefetched]:
    """The caller's state under `key` in USERS_NAMESPACE (`load` on a miss), and the cache's
    answers for `prefetch`, all read in one round trip."""
    cache = get_cache()
    own = (USERS_NAMESPACE, key)
    found = cache.lookup([own, *prefetch])
    state = cache.fetch(USERS_NAMESPACE, key, load, found=found.pop(own))
    return state, found


def person(user_id: uuid.UUID, state: dict[str, Any], **credential: Any) -> Principal:
    """A person with the org-wide role and bindings of their `state` (through a session unless
    `credential` says otherwise)."""
    return Principal(
        user_id,
        state["email"],
        state["role"],
        grants=roles.grants_from(state["role"], state.get("bindings", ())),
        teams=tuple(state.get("teams", ())),
        **credential,
    )
