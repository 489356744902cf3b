"""A service account's own OIDC token presented as the bearer (what Cloud Scheduler and Pub/Sub's
push send), on a route that takes one, from the account its setting names only (EVENTS_DISPATCHER,
DRIFT_OBSERVER): matched by the exchange's service (`shared.auth.exchange.bearer_account`), and
good for this request only."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Request

from shared.auth import tokens
from shared.auth.principal import Principal
from shared.errors import Unauthorized
from shared.platform.settings import get_settings
from shared.web.guard import service_account
from shared.web.guard.state import Prefetched
from shared.web.headers import client_address


def refused() -> Unauthorized:
    return Unauthorized(
        "An OIDC token is taken as the bearer only by the events dispatch (from the service account "
        "EVENTS_DISPATCHER names) and the drift observations push (DRIFT_OBSERVER's); exchange it at "
        "/auth/exchange for an access token.",
        code="oidc_bearer_not_accepted",
    )


def principal(
    token: str, prefetch: Sequence[tuple[str, str]], request: Request, *, named_by: str
) -> tuple[Principal, Prefetched]:
    from shared.auth.exchange import bearer_account
    from shared.auth.ratelimit import get_limiter

    chosen, verified = bearer_account(
        settings=get_settings(), limiter=get_limiter(), token=token, client=client_address(request)
    )
    if chosen.name != getattr(get_settings(), named_by):
        raise refused()
    claims = {"sub": f"{tokens.SERVICE_ACCOUNT_SUB}{chosen.id}", "ver": chosen.auth_version}
    return service_account.principal(claims | {"exp": verified.expires_at}, prefetch)
