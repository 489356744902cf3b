"""The routes of releases: record, read, edit, finalize and cancel them; their timeline."""

from typing import Any
from uuid import UUID

from shared import catalog as service  # releases, with where each is deployed; applications, with their paths
from shared.audit.schemas import AuditEventOut
from shared.catalog import ReleaseDetailOut
from shared.pagination import PageQuery
from shared.releases import schemas
from shared.releases.schemas import ReleaseOut
from shared.web import Call, Reply, if_match, listing
from shared.web.routes import RouteTable

routes = RouteTable()


@routes.post(
    "/",
    role="developer",
    status=201,
    also_answers=(409,),
    response=ReleaseDetailOut,
    location=True,
)
def create_release(call: Call, body: schemas.ReleaseIn) -> Reply:
    """Record a release (a draft, or `ready` when the body says so)."""
    release = service.create_release(call.work, caller=call.principal, release=body)
    return Reply(body=release, headers={"Location": call.location(f"/{release['id']}")})


@routes.get("/", role="viewer", lists=True, response=ReleaseOut)
def list_releases(call: Call, query: schemas.ReleaseQuery) -> Reply:
    """Releases, newest first (`sort=-version`: by SemVer precedence), filtered."""
    found = service.list_releases(
        call.work,
        limit=query.limit,
        cursor=query.cursor,
        application=query.application,
        status=query.status,
        environment=query.environment,
        q=query.q,
        sort=query.sort,
    )
    return listing(call, found["items"], found["next_cursor"])


@routes.get(
    "/<uuid:release_id>",
    role="viewer",
    also_answers=(304,),
    prefetch=lambda path: [service.cache_key(path["release_id"])],
    response=ReleaseDetailOut,
)
def get_release(call: Call, release_id: UUID) -> dict[str, Any]:
    """One release with a deployment summary per environment."""
    return service.get_release(call.work, release_id=release_id)


@routes.patch("/<uuid:release_id>", role="developer", also_answers=(409, 412), response=ReleaseDetailOut)
def update_release(call: Call, body: schemas.ReleasePatch, release_id: UUID) -> dict[str, Any]:
    """Edit a draft (honours If-Match)."""
    return service.update_release(
        call.work, release_id=release_id, caller=call.principal, patch=body, if_match=if_match(call.request)
    )


@routes.delete("/<uuid:release_id>", role="developer", status=204, also_answers=(409, 412))
def delete_release(call: Call, release_id: UUID) -> None:
    """Delete a draft (honours If-Match)."""
    service.delete_release(call.work, release_id=release_id, caller=call.principal, if_match=if_match(call.request))


@routes.post("/<uuid:release_id>/finalize", role="developer", also_answers=(409, 412), response=ReleaseDetailOut)
def finalize_release(call: Call, release_id: UUID) -> dict[str, Any]:
    """Freeze a draft's content: it becomes `ready`, and deployable."""
    return service.change_status(
        call.work,
        release_id=release_id,
        caller=call.principal,
        action="finalize",
        if_match=if_match(call.request),
    )


@routes.post(
    "/<uuid:release_id>/cancel",
    role="developer",
    also_answers=(409, 412),
    response=ReleaseDetailOut,
)
def cancel_release(call: Call, body: schemas.CancelIn, release_id: UUID) -> dict[str, Any]:
    """Mark a release bad: never deployable again, never a rollback target."""
    return service.change_status(
        call.work,
        release_id=release_id,
        caller=call.principal,
        action="cancel",
        reason=body.reason,
        if_match=if_match(call.request),
    )


@routes.get("/<uuid:release_id>/events", role="viewer", lists=True, response=AuditEventOut)
def release_events(call: Call, query: PageQuery, release_id: UUID) -> Reply:
    """The release's audit timeline, oldest first."""
    items, cursor = service.release_events(call.work, release_id=release_id, limit=query.limit, cursor=query.cursor)
    return listing(call, items, cursor)
