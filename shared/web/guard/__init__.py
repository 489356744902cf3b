"""The guard every function uses: who is calling, through which credential, and a route's role.

`authenticate` picks the credential: behind Identity-Aware Proxy its assertion (`iap`), else the
bearer: an `rm_` API token (`api_token`), the dispatcher's own OIDC token on a route that takes
one (`oidc_bearer`), or one of our access tokens, a login's (`session`) or a service account's
from `/auth/exchange` (`service_account`). Each reads the caller's current state through the
cache (`state`), so a deactivation, a role or password change, a binding or a team membership
takes effect on the very next request; the guard itself never writes.

A route's role is a coarse check, against the highest role any of the caller's grants gives; each
write then checks its real scope (application, environment) in its service with `roles.require`.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Request

from shared.auth import roles, tokens
from shared.auth.principal import Principal
from shared.errors import Forbidden, Unauthorized
from shared.platform.settings import get_settings
from shared.web.guard import api_token, iap, service_account, session
from shared.web.guard import oidc_bearer as raw_oidc
from shared.web.guard.state import Prefetched


def authenticate(
    request: Request, required_role: str, prefetch: Sequence[tuple[str, str]] = (), *, oidc_bearer: str | None = None
) -> tuple[Principal, Prefetched]:
    """The caller, if their credential is valid and some grant of theirs (of any scope) includes
    `required_role` (the service checks the scope), and the cache's answers for `prefetch` (entries
    the request will read), read in the same round trip as the caller's state: they go to the
    request's unit of work, beside the identity, not in it. `oidc_bearer`: the route also takes the
    own OIDC token of the service account that setting names (`shared.web.guard.oidc_bearer`).
    """
    settings = get_settings()
    assertion = request.headers.get(iap.IAP_HEADER) if settings.iap_audience else None
    if assertion is not None:
        # Behind Identity-Aware Proxy the assertion alone decides: never a fallback to a bearer token.
        principal, prefetched = iap.principal(assertion, prefetch)
    else:
        principal, prefetched = _from_bearer(_bearer(request), prefetch, request, oidc_bearer=oidc_bearer)
    if not roles.at_least(principal.top_role, required_role):
        raise Forbidden(
            f"This needs the {required_role} role; you have {principal.top_role}.", code="insufficient_role"
        )
    return principal, prefetched


def _bearer(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthorized("Send `Authorization: Bearer <token>`.", code="missing_token")
    return credential.strip()


def _from_bearer(
    token: str, prefetch: Sequence[tuple[str, str]], request: Request, *, oidc_bearer: str | None
) -> tuple[Principal, Prefetched]:
    if token.startswith(tokens.API_TOKEN_PREFIX):
        return api_token.principal(token, prefetch)
    if tokens.signed_asymmetrically(token):  # our own access tokens are HS256
        if not oidc_bearer:
            raise raw_oidc.refused()
        return raw_oidc.principal(token, prefetch, request, named_by=oidc_bearer)
    claims = tokens.decode_access_token(get_settings(), token)
    if str(claims["sub"]).startswith(tokens.SERVICE_ACCOUNT_SUB):
        return service_account.principal(claims, prefetch)
    return session.principal(claims, prefetch)


__all__ = ["authenticate"]
