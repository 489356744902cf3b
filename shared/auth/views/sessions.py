"""The routes of accounts and sessions: register, log in, refresh, log out; the caller's own account."""

from typing import TYPE_CHECKING, Any

from shared import lazy
from shared.auth import schemas
from shared.auth.ratelimit import get_limiter
from shared.auth.schemas import MeOut, TokenPairOut, UserOut
from shared.errors import Forbidden
from shared.platform.settings import get_settings
from shared.web import Call, client_address
from shared.web.routes import RouteTable

if TYPE_CHECKING:
    from shared.auth import service
else:  # loaded by the first request that calls them (shared.lazy)
    service = lazy.module("shared.auth.service")

routes = RouteTable()


@routes.post("/register", status=201, also_answers=(403, 409, 429), response=UserOut)
def register(call: Call, body: schemas.RegisterIn) -> dict[str, Any]:
    """Create an account (role `viewer`) while registration is open."""
    if not get_settings().registration_is_open:
        raise Forbidden("Registration is closed; ask an admin for an account.", code="registration_closed")
    return service.register(call.work, body, limiter=get_limiter(), client=client_address(call.request))


@routes.post("/login", form=True, also_answers=(401, 429), response=TokenPairOut)
def login(call: Call, body: schemas.LoginIn) -> dict[str, Any]:
    """Exchange email and password for an access and a refresh token."""
    client = client_address(call.request)
    return service.login(call.work, body, settings=get_settings(), limiter=get_limiter(), client=client)


@routes.post("/refresh", also_answers=(401,), response=TokenPairOut)
def refresh(call: Call, body: schemas.RefreshIn) -> dict[str, Any]:
    """A new token pair for a refresh token, which is spent."""
    return service.refresh(call.work, body, settings=get_settings())


@routes.post("/logout", status=204, also_answers=(401,))
def logout(call: Call, body: schemas.RefreshIn) -> None:
    """Revoke the session the refresh token belongs to."""
    service.logout(call.work, body)


@routes.get("/me", role="viewer", response=MeOut)
def me(call: Call) -> dict[str, Any]:
    """The caller's account, their teams and role bindings and, for an API token, what that token may do."""
    caller = call.principal
    # From the cache when fresh: a console's or relman's first call then needs no database.
    return dict(call.work.cache.fetch(*caller.account_key, lambda: service.whoami(call.work, caller)))


@routes.post("/me/password", role="viewer", status=204, also_answers=(429,))
def change_password(call: Call, body: schemas.ChangePasswordIn) -> None:
    """Change the caller's password; every session and API token of theirs ends."""
    client = client_address(call.request)
    service.change_password(call.work, body, call.principal, limiter=get_limiter(), client=client)
