"""The routes of accounts as admins see them: the list, and changing one."""

from typing import Any
from uuid import UUID

from shared.auth import schemas, service
from shared.auth.schemas import UserOut
from shared.pagination import PageQuery
from shared.web import Call, Reply, if_match, listing
from shared.web.routes import RouteTable

routes = RouteTable()


@routes.get("/users", role="admin", lists=True, response=UserOut)
def list_users(call: Call, query: PageQuery) -> Reply:
    """Every account, a page at a time."""
    return listing(call, *service.list_users(call.work, query, call.principal))


@routes.patch("/users/<uuid:user_id>", role="admin", also_answers=(409, 412), response=UserOut)
def update_user(call: Call, body: schemas.UserPatch, user_id: UUID) -> dict[str, Any]:
    """Change a user's role, active flag or Identity-Aware Proxy link."""
    return service.update_user(call.work, user_id, body, call.principal, if_match=if_match(call.request))
