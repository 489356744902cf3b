"""The routes of event subscriptions, their deliveries, and the dispatch the scheduler calls."""

from typing import TYPE_CHECKING, Any
from uuid import UUID

from shared import lazy
from shared.auth import roles
from shared.pagination import PageQuery
from shared.platform.settings import get_settings
from shared.subscriptions import schemas as event_schemas
from shared.subscriptions.schemas import DeliveryOut, DispatchOut, SubscriptionCreatedOut, SubscriptionOut
from shared.web import Call, Reply, listing
from shared.web.routes import RouteTable

if TYPE_CHECKING:
    from shared.deployments import attestations, automation, expiry
    from shared.events import dispatch
    from shared.subscriptions import service as subscriptions
else:  # loaded by the first request that calls them (shared.lazy)
    attestations = lazy.module("shared.deployments.attestations")
    automation = lazy.module("shared.deployments.automation")
    expiry = lazy.module("shared.deployments.expiry")
    dispatch = lazy.module("shared.events.dispatch")
    subscriptions = lazy.module("shared.subscriptions.service")

routes = RouteTable()


@routes.post(
    "/subscriptions",
    role="admin",
    status=201,
    response=SubscriptionCreatedOut,
    location=True,
    secret_fields=("secret",),
)
def create_subscription(call: Call, body: event_schemas.SubscriptionIn) -> Reply:
    """Subscribe a URL to events (signed webhooks, or Slack / Google Chat messages); the secret is shown once."""
    found = subscriptions.create_subscription(call.work, caller=call.principal, subscription=body)
    return Reply(body=found, headers={"Location": call.location(f"/subscriptions/{found['id']}")})


@routes.get("/subscriptions", role="admin", lists=True, response=SubscriptionOut)
def list_subscriptions(call: Call, query: PageQuery) -> Reply:
    """The subscriptions you may manage, oldest first."""
    items, cursor = subscriptions.list_subscriptions(
        call.work, grants=call.principal.grants, limit=query.limit, cursor=query.cursor
    )
    return listing(call, items, cursor)


@routes.get("/subscriptions/<uuid:subscription_id>", role="admin", response=SubscriptionOut)
def get_subscription(call: Call, subscription_id: UUID) -> dict[str, Any]:
    """One subscription (never its secret)."""
    return subscriptions.get_subscription(call.work, subscription_id=subscription_id, grants=call.principal.grants)


@routes.patch("/subscriptions/<uuid:subscription_id>", role="admin", response=SubscriptionOut)
def update_subscription(call: Call, body: event_schemas.SubscriptionPatch, subscription_id: UUID) -> dict[str, Any]:
    """Change a subscription's target, filters or format; `active: true` turns it back on."""
    return subscriptions.update_subscription(
        call.work,
        subscription_id=subscription_id,
        caller=call.principal,
        patch=body,
    )


@routes.delete("/subscriptions/<uuid:subscription_id>", role="admin", status=204)
def delete_subscription(call: Call, subscription_id: UUID) -> None:
    """Delete a subscription and its delivery log."""
    subscriptions.delete_subscription(
        call.work, subscription_id=subscription_id, actor=call.principal.actor, grants=call.principal.grants
    )


@routes.get("/subscriptions/<uuid:subscription_id>/deliveries", role="admin", lists=True, response=DeliveryOut)
def subscription_deliveries(call: Call, query: PageQuery, subscription_id: UUID) -> Reply:
    """The subscription's delivery log, newest first."""
    items, cursor = subscriptions.list_deliveries(
        call.work, subscription_id=subscription_id, grants=call.principal.grants, limit=query.limit, cursor=query.cursor
    )
    return listing(call, items, cursor)


@routes.post(
    "/subscriptions/<uuid:subscription_id>/deliveries/<uuid:delivery_id>/redeliver",
    role="admin",
    status=202,
    response=DeliveryOut,
)
def redeliver(call: Call, subscription_id: UUID, delivery_id: UUID) -> dict[str, Any]:
    """Send a delivery's event again (same `webhook-id`), as a new delivery."""
    return subscriptions.redeliver(
        call.work,
        subscription_id=subscription_id,
        delivery_id=delivery_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
    )


@routes.post("/subscriptions/<uuid:subscription_id>/ping", role="admin", status=202, response=DeliveryOut)
def ping_subscription(call: Call, subscription_id: UUID) -> dict[str, Any]:
    """Send a `ping` event to this subscription alone."""
    return subscriptions.ping(
        call.work, subscription_id=subscription_id, actor=call.principal.actor, grants=call.principal.grants
    )


@routes.post("/events/dispatch", role="viewer", response=DispatchOut, oidc_bearer="events_dispatcher")
def dispatch_events(call: Call) -> dict[str, Any]:
    """Expire the deployments nobody moved in time, request what auto-promoting stages are due, sign
    the attestations still pending, then send every delivery that is due (theirs too):
    organisation-wide admins, or the service account named by EVENTS_DISPATCHER (Cloud Scheduler
    calls this every minute with that account's OIDC token)."""
    caller = call.principal
    roles.require_admin_or_named(
        caller.grants, service_account=caller.service_account_name, named=get_settings().events_dispatcher
    )
    expired = expiry.expire_stale(call.work)
    promoted = automation.promote_due(call.work)
    call.work.commit()  # the expiries, promotions and their events are committed before the deliveries go
    attested = attestations.attest_pending()["attested"]
    return dispatch.run() | {"expired": len(expired), "promoted": len(promoted), "attested": attested}
