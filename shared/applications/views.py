"""The routes of applications and their promotion paths."""

from shared import catalog as service  # releases, with where each is deployed; applications, with their paths
from shared import etags
from shared.applications import schemas as application_schemas
from shared.applications.schemas import ApplicationOut
from shared.pagination import PageQuery
from shared.web import Call, Reply, if_match, listing
from shared.web.routes import RouteTable

routes = RouteTable()


@routes.get("/applications", role="viewer", lists=True, response=ApplicationOut)
def list_applications(call: Call, query: PageQuery) -> Reply:
    """Applications by name, each with the promotion path its gates follow."""
    items, cursor = service.list_applications(call.work, limit=query.limit, cursor=query.cursor)
    return listing(call, items, cursor)


@routes.get("/applications/<slug:name>", role="viewer", response=ApplicationOut)
def get_application(call: Call, name: str) -> Reply:
    """One application with its promotion path (with an ETag: it is keyed by name, not id)."""
    found = service.get_application(call.work, name=name)
    return Reply(body=found, etag=etags.etag(found))


@routes.post(
    "/applications",
    role="admin",
    status=201,
    also_answers=(409,),
    response=ApplicationOut,
    location=True,
)
def create_application(call: Call, body: application_schemas.ApplicationIn) -> Reply:
    """Register an application, on its own promotion path or the default one."""
    found = service.create_application(
        call.work,
        caller=call.principal,
        application=body,
    )
    return Reply(body=found, headers={"Location": call.location(f"/applications/{found['name']}")})


@routes.patch(
    "/applications/<slug:name>",
    role="admin",
    also_answers=(412,),
    response=ApplicationOut,
)
def update_application(call: Call, body: application_schemas.ApplicationPatch, name: str) -> Reply:
    """Change an application's names or promotion path (`path: null`: back to the default); honours If-Match."""
    found = service.update_application(
        call.work,
        name=name,
        caller=call.principal,
        patch=body,
        if_match=if_match(call.request),
    )
    return Reply(body=found, etag=etags.etag(found))
