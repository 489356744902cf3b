"""The auth function: accounts, sessions, roles, API tokens, teams and role bindings."""

from typing import Any
from uuid import UUID

import functions_framework
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from shared.auth import bindings, schemas, service, service_accounts, teams
from shared.auth import exchange as keyless
from shared.auth.guard import authenticate
from shared.auth.ratelimit import get_limiter
from shared.auth.schemas import (
    ApiTokenCreatedOut,
    ApiTokenOut,
    BindingOut,
    ExchangeOut,
    MeOut,
    ServiceAccountOut,
    TeamDetailOut,
    TeamOut,
    TokenPairOut,
    UserOut,
)
from shared.errors import Forbidden
from shared.pagination import PageQuery
from shared.platform.settings import get_settings
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
    """The caller's account, their teams and role bindings and, for an API token, what that token may do."""
    caller = call.principal
    if caller.credential == service_accounts.SUBJECT_TYPE:
        return service_accounts.whoami(
            call.work, service_account_id=caller.user_id, role=caller.role, token=caller.token
        )
    return service.whoami(call.work, user_id=caller.user_id, token=caller.token, teams=caller.teams)


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
    items, cursor = service.list_users(call.work, limit=query.limit, cursor=query.cursor, grants=call.principal.grants)
    return listing(call, items, cursor)


@api.patch("/users/<uuid:user_id>", role="admin", also_answers=(409, 412), response=UserOut)
def update_user(call: Call, body: schemas.UserPatch, user_id: UUID) -> dict[str, Any]:
    """Change a user's role, active flag or Identity-Aware Proxy link."""
    return service.update_user(
        call.work,
        user_id=user_id,
        actor=call.principal.actor,
        if_match=if_match(call.request),
        grants=call.principal.grants,
        role=body.role,
        is_active=body.is_active,
        iap_link=body.iap_link,
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
        owner_role=caller.top_role,
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


# -- teams and role bindings ------------------------------------------------------------------------


@api.post("/teams", role="admin", status=201, also_answers=(409,), response=TeamDetailOut, location=True)
def create_team(call: Call, body: schemas.TeamIn) -> Reply:
    """A team: a named group of users that role bindings and approver stages refer to."""
    caller = call.principal
    team = teams.create_team(
        call.work, grants=caller.grants, actor=caller.actor, name=body.name, display_name=body.display_name
    )
    return Reply(body=team, headers={"Location": call.location(f"/teams/{team['name']}")})


@api.get("/teams", role="viewer", lists=True, response=TeamOut)
def list_teams(call: Call, query: PageQuery) -> Reply:
    """Teams, by name."""
    items, cursor = teams.list_teams(call.work, limit=query.limit, cursor=query.cursor)
    return listing(call, items, cursor)


@api.get("/teams/<slug:name>", role="viewer", response=TeamDetailOut)
def get_team(call: Call, name: str) -> dict[str, Any]:
    """One team with its members."""
    return teams.get_team(call.work, name=name)


@api.put("/teams/<slug:name>/members/<uuid:user_id>", role="admin", status=204)
def add_member(call: Call, name: str, user_id: UUID) -> None:
    """Add a user to a team (idempotent); it applies to their next request."""
    caller = call.principal
    teams.set_membership(call.work, grants=caller.grants, actor=caller.actor, name=name, user_id=user_id, member=True)


@api.delete("/teams/<slug:name>/members/<uuid:user_id>", role="admin", status=204)
def remove_member(call: Call, name: str, user_id: UUID) -> None:
    """Remove a user from a team (idempotent); it applies to their next request."""
    caller = call.principal
    teams.set_membership(call.work, grants=caller.grants, actor=caller.actor, name=name, user_id=user_id, member=False)


@api.post("/bindings", role="admin", status=201, response=BindingOut)
def create_binding(call: Call, body: schemas.BindingIn) -> dict[str, Any]:
    """Grant a role to a user, team or service account on an application (or all) and some environments
    (or all): organisation-wide admins anywhere, an application's admins on it."""
    caller = call.principal
    return bindings.create_binding(
        call.work,
        grants=caller.grants,
        actor=caller.actor,
        subject=body.subject.model_dump(),
        role=body.role,
        application=body.application,
        environments=body.environments,
    )


@api.get("/bindings", role="viewer", lists=True, response=BindingOut)
def list_bindings(call: Call, query: schemas.BindingQuery) -> Reply:
    """Role bindings, oldest first, filtered by subject or application."""
    items, cursor = bindings.list_bindings(
        call.work,
        limit=query.limit,
        cursor=query.cursor,
        subject_type=query.subject_type,
        subject_id=query.subject_id,
        application=query.application,
    )
    return listing(call, items, cursor)


@api.delete("/bindings/<uuid:binding_id>", role="admin", status=204)
def delete_binding(call: Call, binding_id: UUID) -> None:
    """Remove a role binding; it stops at the subject's next request."""
    caller = call.principal
    bindings.delete_binding(call.work, grants=caller.grants, actor=caller.actor, binding_id=binding_id)


# -- service accounts and keyless sign-in --------------------------------------------------------------


@api.post("/service-accounts", role="admin", status=201, also_answers=(409,), response=ServiceAccountOut, location=True)
def create_service_account(call: Call, body: schemas.ServiceAccountIn) -> Reply:
    """A service account: a pipeline's identity, signing in with the OIDC tokens its trust entries name."""
    caller = call.principal
    account = service_accounts.create_service_account(
        call.work,
        grants=caller.grants,
        actor=caller.actor,
        settings=get_settings(),
        name=body.name,
        display_name=body.display_name,
        trust=[entry.model_dump() for entry in body.trust],
    )
    return Reply(body=account, headers={"Location": call.location(f"/service-accounts/{account['id']}")})


@api.get("/service-accounts", role="admin", lists=True, response=ServiceAccountOut)
def list_service_accounts(call: Call, query: PageQuery) -> Reply:
    """Service accounts, by name."""
    items, cursor = service_accounts.list_service_accounts(
        call.work, grants=call.principal.grants, limit=query.limit, cursor=query.cursor
    )
    return listing(call, items, cursor)


@api.get("/service-accounts/<uuid:service_account_id>", role="admin", response=ServiceAccountOut)
def get_service_account(call: Call, service_account_id: UUID) -> dict[str, Any]:
    """One service account with its trust entries."""
    return service_accounts.get_service_account(
        call.work, grants=call.principal.grants, service_account_id=service_account_id
    )


@api.patch("/service-accounts/<uuid:service_account_id>", role="admin", also_answers=(412,), response=ServiceAccountOut)
def update_service_account(call: Call, body: schemas.ServiceAccountPatch, service_account_id: UUID) -> dict[str, Any]:
    """Change a service account's display name, trust or active flag; a new trust or a deactivation
    ends its access tokens at once."""
    caller = call.principal
    return service_accounts.update_service_account(
        call.work,
        grants=caller.grants,
        actor=caller.actor,
        settings=get_settings(),
        service_account_id=service_account_id,
        if_match=if_match(call.request),
        display_name=body.display_name,
        trust=[entry.model_dump() for entry in body.trust] if body.trust is not None else None,
        is_active=body.is_active,
    )


@api.delete("/service-accounts/<uuid:service_account_id>", role="admin", status=204)
def delete_service_account(call: Call, service_account_id: UUID) -> None:
    """Delete a service account and its role bindings; its access tokens stop at once."""
    caller = call.principal
    service_accounts.delete_service_account(
        call.work, grants=caller.grants, actor=caller.actor, service_account_id=service_account_id
    )


@api.post("/exchange", form=True, also_answers=(400, 401, 429, 503), response=ExchangeOut)
def exchange(call: Call, body: schemas.ExchangeIn) -> dict[str, Any]:
    """RFC 8693 token exchange: a trusted OIDC token (Cloud Build, GitHub Actions) for a short-lived
    access token of the one service account it speaks for."""
    return keyless.exchange(
        call.work,
        settings=get_settings(),
        limiter=get_limiter(),
        client=client_address(call.request),
        grant_type=body.grant_type,
        subject_token=body.subject_token,
        subject_token_type=body.subject_token_type,
        service_account=body.service_account,
        requested_token_type=body.requested_token_type,
    )


functions_framework.errorhandler(HTTPException)(api.framework_error)


@functions_framework.http
def auth(request: Request) -> Response:
    """Cloud Functions entry point."""
    return api(request)
