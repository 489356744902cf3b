"""The routes of API tokens: make one from a login session, list them, revoke one."""

from typing import TYPE_CHECKING, Any
from uuid import UUID

from shared import lazy
from shared.auth import schemas
from shared.auth.schemas import ApiTokenCreatedOut, ApiTokenOut
from shared.pagination import PageQuery
from shared.web import Call, Reply, listing
from shared.web.routes import RouteTable

if TYPE_CHECKING:
    from shared.auth import service
else:  # loaded by the first request that calls them (shared.lazy)
    service = lazy.module("shared.auth.service")

routes = RouteTable()


@routes.post("/tokens", role="developer", status=201, response=ApiTokenCreatedOut, secret_fields=("token",))
def create_token(call: Call, body: schemas.TokenIn) -> dict[str, Any]:
    """An API token for a pipeline, made from a login session; the secret is in this response only."""
    return service.create_api_token(call.work, body, call.principal)


@routes.get("/tokens", role="viewer", lists=True, response=ApiTokenOut)
def list_tokens(call: Call, query: PageQuery) -> Reply:
    """The caller's API tokens (an admin's list has everyone's), without secrets."""
    return listing(call, *service.list_api_tokens(call.work, query, call.principal))


@routes.delete("/tokens/<uuid:token_id>", role="viewer", status=204)
def revoke_token(call: Call, token_id: UUID) -> None:
    """Revoke an API token at once."""
    service.revoke_api_token(call.work, token_id, call.principal)
