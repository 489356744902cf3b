"""Who is signed in to the console: behind Identity-Aware Proxy, its assertion (as the API's guard
reads it); otherwise a session cookie of the console's own, opened by its login form.

The cookie holds the refresh token of a session (a refresh-token family) that the login opened. It
is HttpOnly, SameSite=Strict and, outside local development, Secure with the `__Host-` prefix; the
console never rotates it: it checks on every request that the token is neither spent, revoked nor
expired, so a logout, a password change or a deactivation (which revoke the family, as for any
session) ends it at the next page."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Request
from werkzeug.wrappers import Response

from shared.auth import tokens
from shared.auth.callers import user_state
from shared.auth.principal import Principal
from shared.auth.tables import refresh_tokens
from shared.platform.settings import get_settings
from shared.platform.work import UnitOfWork
from shared.web.guard import iap
from shared.web.guard.state import cached, person

_COOKIE = "rm_console"


@dataclass(frozen=True)
class Session:
    """The person signed in, and what the console's CSRF tokens are derived from."""

    principal: Principal
    # The session's refresh family (None behind IAP, where the person is the session).
    family_id: uuid.UUID | None

    @property
    def csrf_token(self) -> str:
        """The token every state-changing form carries: an HMAC of the session under the service's
        signing key, so a page of another origin cannot know it."""
        key = get_settings().signing_key()  # never empty: without a key the instance is misconfigured
        subject = f"family:{self.family_id}" if self.family_id else f"iap:{self.principal.user_id}"
        return hmac.new(key.encode(), f"console-csrf:{subject}".encode(), hashlib.sha256).hexdigest()

    def accepts(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent, self.csrf_token)


def cookie_name() -> str:
    """`__Host-rm_console` where the cookie is Secure (the prefix pins it to this host and path /)."""
    return _COOKIE if _local() else f"__Host-{_COOKIE}"


def _local() -> bool:
    return get_settings().environment in ("development", "test")


def current(work: UnitOfWork, request: Request) -> Session | None:
    """The signed-in person, or None (then the console asks them to sign in)."""
    settings = get_settings()
    assertion = request.headers.get(iap.IAP_HEADER) if settings.iap_audience else None
    if assertion is not None:
        return Session(iap.principal(assertion, ())[0], None)
    token = request.cookies.get(cookie_name())
    if not token:
        return None
    row = work.conn.execute(
        sa.select(refresh_tokens.c.user_id, refresh_tokens.c.family_id).where(
            refresh_tokens.c.token_hash == tokens.digest(token),
            refresh_tokens.c.used_at.is_(None),
            refresh_tokens.c.revoked_at.is_(None),
            refresh_tokens.c.expires_at > work.now,
        )
    ).first()
    if row is None:
        return None
    state, _ = cached(str(row.user_id), lambda: user_state(str(row.user_id)), ())
    if state is None or not state["is_active"]:
        return None
    return Session(person(row.user_id, state), row.family_id)


def keep(response: Response, refresh_token: str) -> Response:
    """Set the session cookie on `response`."""
    response.set_cookie(
        cookie_name(),
        refresh_token,
        max_age=get_settings().refresh_token_days * 24 * 3600,
        path="/",
        secure=not _local(),
        httponly=True,
        samesite="Strict",
    )
    return response


def forget(response: Response) -> Response:
    response.delete_cookie(cookie_name(), path="/", secure=not _local(), httponly=True, samesite="Strict")
    return response


def refresh_token_of(request: Request) -> str | None:
    return request.cookies.get(cookie_name()) or None
