"""The routes of freezes and locks."""

from typing import TYPE_CHECKING, Any
from uuid import UUID

from shared import etags, lazy
from shared.deployments import hold_schemas
from shared.deployments.hold_schemas import FreezeOut, LockOut
from shared.web import Call, Reply, listing
from shared.web.routes import RouteTable

if TYPE_CHECKING:
    from shared.deployments import freezes, locks
else:  # the services, loaded by the first request that calls them (shared.lazy)
    freezes = lazy.module("shared.deployments.freezes")
    locks = lazy.module("shared.deployments.locks")

routes = RouteTable()

# -- freezes ----------------------------------------------------------------------------------------


@routes.get("/freezes", role="viewer", lists=True, response=FreezeOut)
def list_freezes(call: Call, query: hold_schemas.FreezeQuery) -> Reply:
    """Freeze windows, each saying whether it is active now."""
    items, cursor = freezes.list_freezes(
        call.work,
        limit=query.limit,
        cursor=query.cursor,
        environment=query.environment,
        application=query.application,
        active=query.active,
    )
    return listing(call, items, cursor)


@routes.post("/freezes", role="release_manager", status=201, response=FreezeOut)
def create_freeze(call: Call, body: hold_schemas.FreezeIn) -> dict[str, Any]:
    """A one-off or weekly freeze window, for one environment or all."""
    return freezes.create_freeze(call.work, caller=call.principal, freeze=body)


@routes.delete("/freezes/<uuid:freeze_id>", role="release_manager", status=204)
def delete_freeze(call: Call, freeze_id: UUID) -> None:
    """End a freeze window."""
    freezes.delete_freeze(call.work, freeze_id=freeze_id, caller=call.principal)


# -- locks ------------------------------------------------------------------------------------------


@routes.get("/locks", role="viewer", lists=True, response=LockOut)
def list_locks(call: Call, query: hold_schemas.LockQuery) -> Reply:
    """Environment locks, newest first, each saying whether it holds now."""
    items, cursor = locks.list_locks(call.work, query)
    return listing(call, items, cursor)


@routes.post("/locks", role="release_manager", status=201, also_answers=(409,), response=LockOut, location=True)
def lock(call: Call, body: hold_schemas.LockIn) -> Reply:
    """Lock an environment ("stop the line"): nothing new starts there until it is unlocked."""
    found = locks.lock(call.work, caller=call.principal, body=body)
    return Reply(body=found, headers={"Location": call.location(f"/locks/{found['id']}")})


@routes.get("/locks/<uuid:lock_id>", role="viewer", response=LockOut)
def get_lock(call: Call, lock_id: UUID) -> Reply:
    """One lock (with an ETag)."""
    found = locks.get_lock(call.work, lock_id=lock_id)
    return Reply(body=found, etag=etags.etag(found))


@routes.post("/locks/<uuid:lock_id>/unlock", role="release_manager", also_answers=(409,), response=LockOut)
def unlock(call: Call, body: hold_schemas.UnlockIn, lock_id: UUID) -> dict[str, Any]:
    """Unlock: what waited may start again; the lock stays on record."""
    return locks.unlock(call.work, lock_id=lock_id, caller=call.principal, body=body)
