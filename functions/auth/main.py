"""The auth function: accounts, sessions, roles and API tokens."""

from uuid import UUID

import functions_framework
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from shared.auth import schemas, service
from shared.auth.guard import authenticate
from shared.auth.ratelimit import get_limiter
from shared.auth.schemas import ApiTokenCreatedOut, ApiTokenOut, MeOut, TokenPairOut, UserOut
from shared.errors import Forbidden
from shared.pagination import PageQuery
from shared.settings import get_settings
from shared.web import Api, Call, Reply, client_address, if_match, listing

api = Api("auth", title="Release Manager: auth", authenticator=authenticate, no_store=True)


@api.post("/register", body=schemas.RegisterIn, status=201, errors=(403, 409, 429), response=UserOut)
def register(call: Call) -> dict:
    """Create an account (role `viewer`) while registration is open."""
    if not get_settings().registration_is_open:
        raise Forbidden("Registration is closed; ask an admin for an account.", code="registration_closed")
    return service.register(
        call.work, limiter=get_limiter(), client=client_address(call.request), **call.body.model_dump()
    )


@api.post("/login", body=schemas.LoginIn, form=True, errors=(401, 429), response=TokenPairOut)
def login(call: Call) -> dict:
    """Exchange email and password for an access and a refresh token."""
    return service.login(
        call.work,
        settings=get_settings(),
        limiter=get_limiter(),
        client=client_address(call.request),
        email=call.body.email,
        password=call.body.password,
    )


@api.post("/refresh", body=schemas.RefreshIn, errors=(401,), response=TokenPairOut)
def refresh(call: Call) -> dict:
    """A new token pair for a refresh token, which is spent."""
    return service.refresh(call.work, settings=get_settings(), refresh_token=call.body.refresh_token)


@api.post("/logout", body=schemas.RefreshIn, status=204, errors=(401,))
def logout(call: Call) -> None:
    """Revoke the session the refresh token belongs to."""
    service.logout(call.work, refresh_token=call.body.refresh_token)


@api.get("/me", role="viewer", response=MeOut)
def me(call: Call) -> dict:
    """The caller's account and, for an API token, what that token may do."""
    return service.whoami(call.work, user_id=call.principal.user_id, token=call.principal.token)


@api.post("/me/password", role="viewer", body=schemas.ChangePasswordIn, status=204, errors=(429,))
def change_password(call: Call) -> None:
    """Change the caller's password; every session and API token of theirs ends."""
    service.change_password(
        call.work,
        user_id=call.principal.user_id,
        limiter=get_limiter(),
        client=client_address(call.request),
        **call.body.model_dump(),
    )


@api.get("/users", role="admin", query=PageQuery, lists=True, response=UserOut)
def list_users(call: Call) -> Reply:
    """Every account, a page at a time."""
    items, cursor = service.list_users(call.work, limit=call.query.limit, cursor=call.query.cursor)
    return listing(call, items, cursor)


@api.patch("/users/<uuid:user_id>", role="admin", body=schemas.UserPatch, errors=(409, 412), response=UserOut)
def update_user(call: Call, user_id: UUID) -> dict:
    """Change a user's role or active flag."""
    changes = call.body.model_dump(exclude_none=True)
    return service.update_user(
        call.work, user_id=user_id, actor=call.principal.actor, if_match=if_match(call.request), **changes
    )


@api.post(
    "/tokens",
    role="developer",
    body=schemas.TokenIn,
    status=201,
    response=ApiTokenCreatedOut,
    secret_fields=("token",),
)
def create_token(call: Call) -> dict:
    """An API token for a pipeline, made from a login session; the secret is in this response only."""
    caller = call.principal
    return service.create_api_token(
        call.work,
        owner_id=caller.user_id,
        owner_role=caller.role,
        credential=caller.credential,
        **call.body.model_dump(),
    )


@api.get("/tokens", role="viewer", query=PageQuery, lists=True, response=ApiTokenOut)
def list_tokens(call: Call) -> Reply:
    """The caller's API tokens (an admin's list has everyone's), without secrets."""
    caller = call.principal
    items, cursor = service.list_api_tokens(
        call.work, viewer_id=caller.user_id, is_admin=caller.is_admin, limit=call.query.limit, cursor=call.query.cursor
    )
    return listing(call, items, cursor)


@api.delete("/tokens/<uuid:token_id>", role="viewer", status=204)
def revoke_token(call: Call, token_id: UUID) -> None:
    """Revoke an API token at once."""
    caller = call.principal
    service.revoke_api_token(call.work, token_id=token_id, viewer_id=caller.user_id, is_admin=caller.is_admin)


functions_framework.errorhandler(HTTPException)(api.framework_error)


@functions_framework.http
def auth(request: Request) -> Response:
    """Cloud Functions entry point."""
    return api(request)
