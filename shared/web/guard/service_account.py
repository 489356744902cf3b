"""An access token `/auth/exchange` issued: the service account it names, while its credentials
version holds. Its state is cached beside the users' (USERS_NAMESPACE, key "sa:<id>"), so binding
changes reach it the same way."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import lazy
from shared.auth import roles, tokens
from shared.auth.principal import Principal
from shared.errors import Unauthorized
from shared.web.guard.state import Prefetched, cached

if TYPE_CHECKING:
    from shared.auth import callers
else:  # the database behind the cache, loaded on the first miss (shared.lazy)
    callers = lazy.module("shared.auth.callers")


def principal(claims: dict[str, Any], prefetch: Sequence[tuple[str, str]]) -> tuple[Principal, Prefetched]:
    try:
        account_id = uuid.UUID(str(claims["sub"]).removeprefix(tokens.SERVICE_ACCOUNT_SUB))
    except ValueError:
        raise Unauthorized("The access token is not valid.", code="invalid_token") from None
    key = f"{tokens.SERVICE_ACCOUNT_SUB}{account_id}"
    state, found = cached(key, lambda: callers.load_service_account_state(str(account_id)), prefetch)
    if state is None or not state["is_active"]:
        raise Unauthorized("The service account is deactivated or deleted.", code="account_inactive")
    if claims.get("ver") != state["auth_version"]:
        raise Unauthorized("The service account changed; exchange a new token.", code="token_revoked")
    grants = roles.service_account_grants(state)
    principal = Principal(
        account_id,
        f"{state['name']}@{roles.SERVICE_ACCOUNT_DOMAIN}",
        roles.service_account_role(grants),
        credential=roles.SERVICE_ACCOUNT,
        token_expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC),
        grants=grants,
        service_account_name=state["name"],
    )
    return principal, found
