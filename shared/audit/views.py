"""The routes of the audit log and its verification."""

from typing import TYPE_CHECKING, Any

from flask import Response

from shared import lazy
from shared.audit.schemas import AuditEventOut, VerifyOut
from shared.auth import roles
from shared.releases import schemas
from shared.web import Call, Reply, listing
from shared.web.routes import RouteTable

if TYPE_CHECKING:
    from shared.audit import service as audit
    from shared.platform import db
else:  # loaded by the first request that calls them (shared.lazy)
    audit = lazy.module("shared.audit.service")
    db = lazy.module("shared.platform.db")

routes = RouteTable()


@routes.get("/audit", role="admin", lists=True, response=AuditEventOut)
def audit_log(call: Call, query: schemas.AuditQuery) -> Reply | Response:
    """The whole audit log; `Accept: application/x-ndjson` streams every matching event."""
    roles.require(call.principal.grants, "admin")  # organisation-wide admins only
    filters: dict[str, Any] = {"entity_type": query.entity_type, "actor": query.actor, "since": query.since}
    if call.request.accept_mimetypes.best == "application/x-ndjson":
        return Response(audit.export_lines(db.get_engine(), **filters), mimetype="application/x-ndjson")
    items, cursor = audit.list_events(call.work.conn, limit=query.limit, cursor=query.cursor, **filters)
    return listing(call, items, cursor)


@routes.get("/audit/verify", role="admin", response=VerifyOut)
def verify_audit(call: Call) -> dict[str, Any]:
    """Recompute the keyed hash chain and compare it with the checkpoints kept outside the database."""
    roles.require(call.principal.grants, "admin")
    return audit.verify_now(call.work.conn)
