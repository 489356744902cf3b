"""The auth guard every function uses: a JWT access token or an `rm_` API token, and a role.

The caller's current state (active, role, credentials version, teams and role bindings) is read
through the cache, so a deactivation, a role or password change, a binding or a team membership
takes effect on the very next request without a database read on every request: the services
invalidate the cached state when they commit.

A route's role is a coarse check, against the highest role any of the caller's grants gives; each
write then checks its real scope (application, environment) in its service with `roles.require`.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Request

from shared.auth import roles, tokens
from shared.auth.bindings import caller_scope
from shared.auth.principal import Principal
from shared.auth.tables import api_tokens, users
from shared.errors import Forbidden, Unauthorized
from shared.platform.cache import Found, get_cache
from shared.platform.clock import utcnow
from shared.platform.db import get_engine
from shared.platform.namespaces import API_TOKENS_NAMESPACE, USERS_NAMESPACE
from shared.platform.settings import get_settings

LAST_USED_EVERY_S = 300.0


def _load_user_state(user_id: str) -> dict[str, Any] | None:
    row_id = uuid.UUID(user_id)
    with get_engine().connect() as conn:
        row = conn.execute(
            sa.select(users.c.email, users.c.role, users.c.is_active, users.c.auth_version).where(users.c.id == row_id)
        ).first()
        if row is None:
            return None
        return row._asdict() | caller_scope(conn, row_id)


def _grants(state: dict[str, Any], cap: str | None = None) -> tuple[roles.Grant, ...]:
    """The org-wide role and each binding as grants, none above `cap` (an API token's role)."""
    found = [roles.Grant(state["role"])]
    for role, application, environments in state.get("bindings", ()):
        found.append(roles.Grant(role, application, tuple(environments) if environments is not None else None))
    if cap is None:
        return tuple(found)
    return tuple(roles.Grant(roles.lower_of(g.role, cap), g.application, g.environments) for g in found)


def user_state(
    user_id: str, prefetch: Sequence[tuple[str, str]] = ()
) -> tuple[dict[str, Any] | None, dict[tuple[str, str], Found]]:
    """The user's current email, role, active flag, credentials version, teams and bindings (cached),
    and the cache's answers for `prefetch`, all read in one round trip."""
    cache = get_cache()
    own = (USERS_NAMESPACE, user_id)
    found = cache.lookup([own, *prefetch])
    state = cache.fetch(USERS_NAMESPACE, user_id, lambda: _load_user_state(user_id), found=found.pop(own))
    return state, found


def _load_api_token(prefix: str) -> dict[str, Any] | None:
    with get_engine().connect() as conn:
        row = conn.execute(
            sa.select(
                api_tokens.c.id,
                api_tokens.c.user_id,
                api_tokens.c.role,
                api_tokens.c.token_hash,
                api_tokens.c.expires_at,
                api_tokens.c.revoked_at,
            ).where(api_tokens.c.prefix == prefix)
        ).first()
    return row._asdict() if row is not None else None


class _LastUsed:
    """Writes `last_used_at` at most every few minutes per token per instance."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def touch(self, token_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._seen.get(token_id, -LAST_USED_EVERY_S) < LAST_USED_EVERY_S:
                return
            self._seen[token_id] = now
        with get_engine().begin() as conn:
            conn.execute(
                sa.update(api_tokens).where(api_tokens.c.id == uuid.UUID(token_id)).values(last_used_at=utcnow())
            )


@functools.cache
def _last_used() -> _LastUsed:
    return _LastUsed()


def _bearer(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthorized("Send `Authorization: Bearer <token>`.", code="missing_token")
    return credential.strip()


# Cache reads made together with the caller's state, for the request's unit of work to use.
Prefetched = dict[tuple[str, str], Found]


def _from_api_token(token: str, prefetch: Sequence[tuple[str, str]]) -> tuple[Principal, Prefetched]:
    parts = tokens.parse_api_token(token)
    found = get_cache().fetch(API_TOKENS_NAMESPACE, parts.prefix, lambda: _load_api_token(parts.prefix))
    if found is None or not tokens.secret_matches(parts.secret, found["token_hash"]):
        raise Unauthorized("The API token is not valid.", code="invalid_token")
    if found["revoked_at"] is not None:
        raise Unauthorized("The API token was revoked.", code="token_revoked")
    expires_at = datetime.fromisoformat(str(found["expires_at"]))
    if expires_at <= utcnow():
        raise Unauthorized("The API token has expired.", code="token_expired")
    state, prefetched = user_state(str(found["user_id"]), prefetch)
    if state is None or not state["is_active"]:
        raise Unauthorized("The token's owner is deactivated.", code="account_inactive")
    _last_used().touch(str(found["id"]))
    # A token never does more than its owner may do today.
    role = roles.lower_of(found["role"], state["role"])
    principal = Principal(
        uuid.UUID(str(found["user_id"])),
        state["email"],
        role,
        token_id=uuid.UUID(str(found["id"])),
        credential="api_token",
        token_expires_at=expires_at,
        grants=_grants(state, cap=found["role"]),
        teams=tuple(state.get("teams", ())),
    )
    return principal, prefetched


def _load_service_account_state(service_account_id: str) -> dict[str, Any] | None:
    from shared.auth.service_accounts import load_state

    with get_engine().connect() as conn:
        return load_state(conn, uuid.UUID(service_account_id))


def _from_service_account(claims: dict[str, Any], prefetch: Sequence[tuple[str, str]]) -> tuple[Principal, Prefetched]:
    """An access token `/auth/exchange` issued: the service account's state is cached beside the
    users' (USERS_NAMESPACE, key "sa:<id>"), so binding changes reach it the same way."""
    from shared.auth import service_accounts

    try:
        account_id = uuid.UUID(str(claims["sub"]).removeprefix(tokens.SERVICE_ACCOUNT_SUB))
    except ValueError:
        raise Unauthorized("The access token is not valid.", code="invalid_token") from None
    cache = get_cache()
    own = (USERS_NAMESPACE, f"{tokens.SERVICE_ACCOUNT_SUB}{account_id}")
    found = cache.lookup([own, *prefetch])
    state = cache.fetch(own[0], own[1], lambda: _load_service_account_state(str(account_id)), found=found.pop(own))
    if state is None or not state["is_active"]:
        raise Unauthorized("The service account is deactivated or deleted.", code="account_inactive")
    if claims.get("ver") != state["auth_version"]:
        raise Unauthorized("The service account changed; exchange a new token.", code="token_revoked")
    grants = service_accounts.grants_of(state)
    principal = Principal(
        account_id,
        f"{state['name']}@{service_accounts.EMAIL_DOMAIN}",
        service_accounts.org_role(grants),
        credential=service_accounts.SUBJECT_TYPE,
        token_expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC),
        grants=grants,
        service_account_name=state["name"],
    )
    return principal, found


def _from_access_token(token: str, prefetch: Sequence[tuple[str, str]]) -> tuple[Principal, Prefetched]:
    claims = tokens.decode_access_token(get_settings(), token)
    if str(claims["sub"]).startswith(tokens.SERVICE_ACCOUNT_SUB):
        return _from_service_account(claims, prefetch)
    try:
        user_id = uuid.UUID(claims["sub"])
    except ValueError:
        raise Unauthorized("The access token is not valid.", code="invalid_token") from None
    state, prefetched = user_state(str(user_id), prefetch)
    if state is None or not state["is_active"]:
        raise Unauthorized("The account is deactivated.", code="account_inactive")
    if claims.get("ver") != state["auth_version"]:
        raise Unauthorized("The session ended (password changed); log in again.", code="token_revoked")
    principal = Principal(
        user_id,
        state["email"],
        state["role"],
        grants=_grants(state),
        teams=tuple(state.get("teams", ())),
    )
    return principal, prefetched


def authenticate(
    request: Request, required_role: str, prefetch: Sequence[tuple[str, str]] = (), *, oidc_bearer: bool = False
) -> tuple[Principal, Prefetched]:
    """The caller, if their credential is valid and some grant of theirs (of any scope) includes
    `required_role` (the service checks the scope), and the cache's answers for `prefetch` (entries
    the request will read), read in the same round trip as the caller's state: they go to the
    request's unit of work, beside the identity, not in it. `oidc_bearer`: the route also takes the
    dispatcher's own OIDC token (see `_from_oidc_token`).
    """
    settings = get_settings()
    assertion = request.headers.get(IAP_HEADER) if settings.iap_audience else None
    if assertion is not None:
        # Behind Identity-Aware Proxy the assertion alone decides: never a fallback to a bearer token.
        principal, prefetched = _from_iap(assertion, prefetch)
    else:
        principal, prefetched = _from_bearer(_bearer(request), prefetch, request, oidc_bearer=oidc_bearer)
    if not roles.at_least(principal.top_role, required_role):
        raise Forbidden(
            f"This needs the {required_role} role; you have {principal.top_role}.", code="insufficient_role"
        )
    return principal, prefetched


def _from_bearer(
    token: str, prefetch: Sequence[tuple[str, str]], request: Request, *, oidc_bearer: bool
) -> tuple[Principal, Prefetched]:
    if token.startswith(tokens.API_TOKEN_PREFIX):
        return _from_api_token(token, prefetch)
    if tokens.signed_asymmetrically(token):
        if not oidc_bearer:
            raise _oidc_bearer_refused()
        return _from_oidc_token(token, prefetch, request)
    return _from_access_token(token, prefetch)


def _oidc_bearer_refused() -> Unauthorized:
    return Unauthorized(
        "An OIDC token is taken as the bearer only by the events dispatch, from the service account "
        "EVENTS_DISPATCHER names; exchange it at /auth/exchange for an access token.",
        code="oidc_bearer_not_accepted",
    )


def _from_oidc_token(token: str, prefetch: Sequence[tuple[str, str]], request: Request) -> tuple[Principal, Prefetched]:
    """A service account's own OIDC token presented as the bearer (what Cloud Scheduler sends), on a
    route that takes one, from the account EVENTS_DISPATCHER names only: checked exactly as
    `/auth/exchange` checks one, with its limit per address and its audited refusals, and good for
    this request only. Our own access tokens are HS256, so the algorithm tells them apart."""
    from shared.auth import exchange
    from shared.auth.ratelimit import get_limiter
    from shared.platform.db import unit_of_work
    from shared.web.headers import client_address

    client = client_address(request)
    get_limiter().reserve_exchange(client=client)
    with unit_of_work() as work:
        chosen, verified, _ = exchange.match_oidc_token(work, settings=get_settings(), token=token, client=client)
    if chosen.name != get_settings().events_dispatcher:
        raise _oidc_bearer_refused()
    claims = {"sub": f"{tokens.SERVICE_ACCOUNT_SUB}{chosen.id}", "ver": chosen.auth_version}
    principal, prefetched = _from_service_account(claims | {"exp": verified.expires_at}, prefetch)
    return principal, prefetched


# -- people behind Identity-Aware Proxy ---------------------------------------------------------------

IAP_HEADER = "x-goog-iap-jwt-assertion"


def _load_iap_user(subject: str) -> dict[str, Any] | None:
    """The state of the account this IAP identity (`sub`) is attached to; None: none is yet."""
    with get_engine().connect() as conn:
        row = conn.execute(
            sa.select(users.c.id, users.c.email, users.c.role, users.c.is_active, users.c.auth_version).where(
                users.c.iap_subject == subject
            )
        ).first()
        if row is None:
            return None
        return row._asdict() | {"id": str(row.id)} | caller_scope(conn, row.id)


def _attach(email: str, subject: str, *, provision: bool) -> bool:
    """First sight of an IAP identity: attach it to its account where that is proven (see
    `accounts.attach_iap_identity`), in a unit of work of its own."""
    from shared.auth.accounts import attach_iap_identity
    from shared.platform.db import unit_of_work

    with unit_of_work() as work:
        return attach_iap_identity(work, email=email, subject=subject, provision=provision)


def _from_iap(assertion: str, prefetch: Sequence[tuple[str, str]]) -> tuple[Principal, Prefetched]:
    from shared.identity.oidc import verify_iap_assertion

    settings = get_settings()
    identity = verify_iap_assertion(assertion, settings=settings)  # 401 invalid_token, or 503
    cache = get_cache()
    own = (USERS_NAMESPACE, f"iap:{identity.subject}")
    found = cache.lookup([own, *prefetch])
    state = cache.fetch(own[0], own[1], lambda: _load_iap_user(identity.subject), found=found.pop(own))
    if state is None and _attach(identity.email, identity.subject, provision=settings.iap_auto_provision):
        state = _load_iap_user(identity.subject)
    if state is None:
        raise Unauthorized("No account has this Identity-Aware Proxy user's email.", code="unknown_iap_user")
    if not state["is_active"]:
        raise Unauthorized("The account is deactivated.", code="account_inactive")
    principal = Principal(
        uuid.UUID(state["id"]),
        state["email"],
        state["role"],
        grants=_grants(state),
        teams=tuple(state.get("teams", ())),
    )
    return principal, found
