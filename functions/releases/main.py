"""The releases function: releases, environments, deployments, approvals, freezes, audit."""

from uuid import UUID

import functions_framework
from flask import Request, Response

from shared.audit import service as audit
from shared.auth.guard import authenticate
from shared.db import get_engine
from shared.pagination import PageQuery
from shared.releases import schemas, service
from shared.web import Api, Call, Reply, if_match, listing

api = Api("releases", title="Release Manager: releases", authenticator=authenticate)


def with_etag(release: dict) -> Reply:
    return Reply(body=release, etag=service.etag(release))


# -- releases -------------------------------------------------------------------------------------


@api.post("/", role="developer", body=schemas.ReleaseIn, status=201)
def create_release(call: Call) -> Reply:
    """Record a release (a draft, or `ready` when the body says so)."""
    release = service.create_release(call.work, actor=call.principal.actor, data=call.body.model_dump(mode="json"))
    location = f"{call.request.script_root}/releases/{release['id']}"
    return Reply(body=release, headers={"Location": location}, etag=service.etag(release))


@api.get("/", role="viewer", query=schemas.ReleaseQuery)
def list_releases(call: Call) -> Reply:
    """Releases, newest first (`sort=-version`: by SemVer precedence), filtered."""
    found = service.list_releases(call.work, **call.query.model_dump())
    return listing(call, found["items"], found["next_cursor"])


@api.get("/<uuid:release_id>", role="viewer")
def get_release(call: Call, release_id: UUID) -> Reply:
    """One release with a deployment summary per environment."""
    return with_etag(service.get_release(call.work, release_id=release_id))


@api.patch("/<uuid:release_id>", role="developer", body=schemas.ReleasePatch)
def update_release(call: Call, release_id: UUID) -> Reply:
    """Edit a draft (honours If-Match)."""
    changes = call.body.model_dump(mode="json", exclude_unset=True)
    release = service.update_release(
        call.work, release_id=release_id, actor=call.principal.actor, changes=changes, if_match=if_match(call.request)
    )
    return with_etag(release)


@api.delete("/<uuid:release_id>", role="developer", status=204)
def delete_release(call: Call, release_id: UUID) -> None:
    """Delete a draft (honours If-Match)."""
    service.delete_release(
        call.work, release_id=release_id, actor=call.principal.actor, if_match=if_match(call.request)
    )


@api.post("/<uuid:release_id>/finalize", role="developer")
def finalize_release(call: Call, release_id: UUID) -> Reply:
    """Freeze a draft's content: it becomes `ready`, and deployable."""
    release = service.change_status(
        call.work, release_id=release_id, actor=call.principal.actor, action="finalize", if_match=if_match(call.request)
    )
    return with_etag(release)


@api.post("/<uuid:release_id>/cancel", role="developer", body=schemas.CancelIn)
def cancel_release(call: Call, release_id: UUID) -> Reply:
    """Mark a release bad: never deployable again, never a rollback target."""
    release = service.change_status(
        call.work,
        release_id=release_id,
        actor=call.principal.actor,
        action="cancel",
        reason=call.body.reason,
        if_match=if_match(call.request),
    )
    return with_etag(release)


@api.get("/<uuid:release_id>/events", role="viewer", query=PageQuery)
def release_events(call: Call, release_id: UUID) -> Reply:
    """The release's audit timeline, oldest first."""
    items, cursor = service.release_events(
        call.work, release_id=release_id, limit=call.query.limit, cursor=call.query.cursor
    )
    return listing(call, items, cursor)


# -- audit ----------------------------------------------------------------------------------------


@api.get("/audit", role="admin", query=schemas.AuditQuery)
def audit_log(call: Call) -> Reply | Response:
    """The whole audit log; `Accept: application/x-ndjson` streams every matching event."""
    filters = call.query.model_dump(exclude={"limit", "cursor"})
    if call.request.accept_mimetypes.best == "application/x-ndjson":
        lines = audit.export_lines(get_engine(), audit.filtered(**filters))
        return Response(lines, mimetype="application/x-ndjson")
    items, cursor = audit.list_events(call.work.conn, limit=call.query.limit, cursor=call.query.cursor, **filters)
    return listing(call, items, cursor)


@api.get("/audit/verify", role="admin")
def verify_audit(call: Call) -> dict:
    """Recompute the hash chain: `{ok, checked, first_bad}`."""
    return audit.verify(call.work.conn)


@functions_framework.http
def releases(request: Request) -> Response:
    """Cloud Functions entry point."""
    return api(request)
