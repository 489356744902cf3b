"""The auth function: accounts, sessions, roles and API tokens."""

from typing import Any
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


@api.post("/register", status=201, also_answers=(403, 409, 429), response=UserOut)
def register(call: Call, body: schemas.RegisterIn) -> dict[str, Any]:
    """Create an account (role `viewer`) while registration is open."""
    if not get_settings().registration_is_open:
        raise Forbidden("Registration is closed; ask an admin for an account.", code="registration_closed")
    return service.register(
        call.work,
        limiter=get_limiter(),
        client=client_address(call.request),
        email=body.email,
        password=body.password,
        display_name=body.display_name,
    )


@api.post("/login", form=True, also_answers=(401, 429), response=TokenPairOut)
def login(call: Call, body: schemas.LoginIn) -> dict[str, Any]:
    """Exchange email and password for an access and a refresh token."""
    return service.login(
        call.work,
        settings=get_settings(),
        limiter=get_limiter(),
        client=client_address(call.request),
        email=body.email,
        password=body.password,
    )


@api.post("/refresh", also_answers=(401,), response=TokenPairOut)
def refresh(call: Call, body: schemas.RefreshIn) -> dict[str, Any]:
    """A new token pair for a refresh token, which is spent."""
    return service.refresh(call.work, settings=get_settings(), refresh_token=body.refresh_token)


@api.post("/logout", status=204, also_answers=(401,))
def logout(call: Call, body: schemas.RefreshIn) -> None:
    """Revoke the session the refresh token belongs to."""
    service.logout(call.work, refresh_token=body.refresh_token)


@api.get("/me", role="viewer", response=MeOut)
def me(call: Call) -> dict[str, Any]:
    """The caller's account and, for an API token, what that token may do."""
    return service.whoami(call.work, user_id=call.principal.user_id, token=call.principal.token)


@api.post("/me/password", role="viewer", status=204, also_answers=(429,))
def change_password(call: Call, body: schemas.ChangePasswordIn) -> None:
    """Change the caller's password; every session and API token of theirs ends."""
    service.change_password(
        call.work,
        user_id=call.principal.user_id,
        limiter=get_limiter(),
        client=client_address(call.request),
        current_password=body.current_password,
        new_password=body.new_password,
    )


@api.get("/users", role="admin", lists=True, response=UserOut)
def list_users(call: Call, query: PageQuery) -> Reply:
    """Every account, a page at a time."""
    items, cursor = service.list_users(call.work, limit=query.limit, cursor=query.cursor)
    return listing(call, items, cursor)


@api.patch("/users/<uuid:user_id>", role="admin", also_answers=(409, 412), response=UserOut)
def update_user(call: Call, body: schemas.UserPatch, user_id: UUID) -> dict[str, Any]:
    """Change a user's role or active flag."""
    return service.update_user(
        call.work,
        user_id=user_id,
        actor=call.principal.actor,
        if_match=if_match(call.request),
        role=body.role,
        is_active=body.is_active,
    )


@api.post(
    "/tokens",
    role="developer",
    status=201,
    response=ApiTokenCreatedOut,
    secret_fields=("token",),
)
def create_token(call: Call, body: schemas.TokenIn) -> dict[str, Any]:
    """An API token for a pipeline, made from a login session; the secret is in this response only."""
    caller = call.principal
    return service.create_api_token(
        call.work,
        owner_id=caller.user_id,
        owner_role=caller.role,
        credential=caller.credential,
        name=body.name,
        role=body.role,
        expires_in_days=body.expires_in_days,
    )


@api.get("/tokens", role="viewer", lists=True, response=ApiTokenOut)
def list_tokens(call: Call, query: PageQuery) -> Reply:
    """The caller's API tokens (an admin's list has everyone's), without secrets."""
    caller = call.principal
    items, cursor = service.list_api_tokens(
        call.work, viewer_id=caller.user_id, is_admin=caller.is_admin, limit=query.limit, cursor=query.cursor
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
