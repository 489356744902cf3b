"""The routes of service accounts and keyless sign-in (the RFC 8693 exchange)."""

from typing import TYPE_CHECKING, Any
from uuid import UUID

from shared import lazy
from shared.auth import schemas
from shared.auth.ratelimit import get_limiter
from shared.auth.schemas import ExchangeOut, ServiceAccountOut
from shared.pagination import PageQuery
from shared.platform.settings import get_settings
from shared.web import Call, Reply, client_address, if_match, listing
from shared.web.routes import RouteTable

if TYPE_CHECKING:
    from shared.auth import exchange as keyless
    from shared.auth import service_accounts
else:  # loaded by the first request that calls them (shared.lazy)
    keyless = lazy.module("shared.auth.exchange")
    service_accounts = lazy.module("shared.auth.service_accounts")

routes = RouteTable()


@routes.post(
    "/service-accounts", role="admin", status=201, also_answers=(409,), response=ServiceAccountOut, location=True
)
def create_service_account(call: Call, body: schemas.ServiceAccountIn) -> Reply:
    """A service account: a pipeline's identity, signing in with the OIDC tokens its trust entries name."""
    account = service_accounts.create_service_account(call.work, body, call.principal, settings=get_settings())
    return Reply(body=account, headers={"Location": call.location(f"/service-accounts/{account['id']}")})


@routes.get("/service-accounts", role="admin", lists=True, response=ServiceAccountOut)
def list_service_accounts(call: Call, query: PageQuery) -> Reply:
    """Service accounts, by name."""
    return listing(call, *service_accounts.list_service_accounts(call.work, query, call.principal))


@routes.get("/service-accounts/<uuid:service_account_id>", role="admin", response=ServiceAccountOut)
def get_service_account(call: Call, service_account_id: UUID) -> dict[str, Any]:
    """One service account with its trust entries."""
    return service_accounts.get_service_account(call.work, service_account_id, call.principal)


@routes.patch(
    "/service-accounts/<uuid:service_account_id>", role="admin", also_answers=(412,), response=ServiceAccountOut
)
def update_service_account(call: Call, body: schemas.ServiceAccountPatch, service_account_id: UUID) -> dict[str, Any]:
    """Change a service account's display name, trust or active flag; a new trust or a deactivation
    ends its access tokens at once."""
    return service_accounts.update_service_account(
        call.work, service_account_id, body, call.principal, settings=get_settings(), if_match=if_match(call.request)
    )


@routes.delete("/service-accounts/<uuid:service_account_id>", role="admin", status=204)
def delete_service_account(call: Call, service_account_id: UUID) -> None:
    """Delete a service account and its role bindings; its access tokens stop at once."""
    service_accounts.delete_service_account(call.work, service_account_id, call.principal)


@routes.post("/exchange", form=True, also_answers=(400, 401, 429, 503), response=ExchangeOut)
def exchange(call: Call, body: schemas.ExchangeIn) -> dict[str, Any]:
    """RFC 8693 token exchange: a trusted OIDC token (Cloud Build, GitHub Actions) for a short-lived
    access token of the one service account it speaks for."""
    client = client_address(call.request)
    return keyless.exchange(call.work, body, settings=get_settings(), limiter=get_limiter(), client=client)
