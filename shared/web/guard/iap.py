"""A person behind Identity-Aware Proxy: the account its assertion's identity is attached to; on
first sight, the accounts service attaches (or provisions) one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from shared import lazy
from shared.auth.principal import Principal
from shared.errors import Unauthorized
from shared.platform.settings import get_settings
from shared.web.guard.state import Prefetched, cached, person

if TYPE_CHECKING:
    from shared.auth import callers
else:  # the database behind the cache, loaded on the first miss (shared.lazy)
    callers = lazy.module("shared.auth.callers")

IAP_HEADER = "x-goog-iap-jwt-assertion"


def principal(assertion: str, prefetch: Sequence[tuple[str, str]]) -> tuple[Principal, Prefetched]:
    from shared.identity.oidc import verify_iap_assertion

    settings = get_settings()
    identity = verify_iap_assertion(assertion, settings=settings)  # 401 invalid_token, or 503
    state, found = cached(f"iap:{identity.subject}", lambda: callers.iap_user_state(identity.subject), prefetch)
    if state is None:
        from shared.auth.iap_accounts import attach_on_first_sight

        if attach_on_first_sight(email=identity.email, subject=identity.subject, provision=settings.iap_auto_provision):
            state = callers.iap_user_state(identity.subject)
    if state is None:
        raise Unauthorized("No account has this Identity-Aware Proxy user's email.", code="unknown_iap_user")
    if not state["is_active"]:
        raise Unauthorized("The account is deactivated.", code="account_inactive")
    return person(uuid.UUID(state["id"]), state), found
