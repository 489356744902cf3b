"""Events through the releases function: subscriptions, signed deliveries to a real receiver on
127.0.0.1 (verified with the Standard Webhooks reference library), retries, 410, leases, SSRF
refusals, chat formats and Pub/Sub (the real client, to a stand-in of the Publisher API)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from shared import catalog
from shared.auth.principal import Principal
from shared.auth.roles import Grant
from shared.events import dispatch
from shared.events.tables import deliveries, events
from shared.idempotency import idempotency_keys
from shared.platform.clock import utcnow
from shared.platform.db import get_engine
from shared.platform.settings import get_settings
from shared.platform.work import unit_of_work
from shared.releases.schemas import ReleaseIn
from tests.factories import (
    access_token,
    as_role,
    bearer,
    bind,
    deploy,
    make_user,
    ready_release,
    register_application,
    ship,
)
from tests.integration.events.receivers import receiver
from tests.integration.events.test_pubsub import stand_in  # noqa: F401 - the Publisher stand-in fixture


@pytest.fixture(autouse=True)
def dispatch_on_demand(request, monkeypatch):
    """Deliveries go when a test dispatches, unless it asks for `after_commit`: the instance's own
    dispatcher thread, woken by each commit."""
    if "after_commit" not in request.fixturenames:
        monkeypatch.setattr(dispatch, "wake", lambda: None)


@pytest.fixture
def after_commit():
    """See `dispatch_on_demand`."""


@pytest.fixture
def private_targets(monkeypatch):
    """The development switch: webhooks may go to the receiver on 127.0.0.1."""
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE_TARGETS")
    get_settings.cache_clear()


def subscribe(releases, headers, url, **body):
    response = releases.post("/releases/subscriptions", json={"url": url, "events": ["*"]} | body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def verified(secret, received):
    """The delivery's event, once the reference library accepts its signature (it raises otherwise)."""
    return Webhook(secret).verify(received.body.decode(), received.headers)


def log_of(releases, headers, subscription):
    found = releases.get(f"/releases/subscriptions/{subscription['id']}/deliveries", headers=headers)
    assert found.status_code == 200, found.get_json()
    return found.get_json()["items"]


def test_a_subscriber_gets_each_event_signed_and_sees_its_secret_only_once(releases, admin, developer, private_targets):
    with receiver() as box:
        subscription = subscribe(releases, admin, box.url("/ok"), events=["release.created", "release.ready"])
        release = ready_release(releases, developer)
        answer = releases.post("/releases/events/dispatch", headers=admin)

        assert subscription["secret"].startswith("whsec_")
        shown_again = releases.get(f"/releases/subscriptions/{subscription['id']}", headers=admin).get_json()
        assert "secret" not in shown_again and shown_again["url"] == box.url("/ok")
        assert answer.status_code == 200
        assert answer.get_json() == {
            "delivered": 2,
            "failed": 0,
            "pending": 0,
            "expired": 0,
            "promoted": 0,
            "attested": 0,
        }
        received = [verified(subscription["secret"], r) for r in box.requests]
        assert [e["type"] for e in received] == ["release.created", "release.ready"]
        assert {e["data"]["release"]["id"] for e in received} == {release["id"]}
        assert received[0]["data"]["application"] == "shop"
        assert [h["webhook-id"] for h in (r.headers for r in box.requests)] == [e["id"] for e in received]
        assert {d["status"] for d in log_of(releases, admin, subscription)} == {"succeeded"}


def test_replaying_a_subscription_never_shows_its_secret_again_nor_keeps_it(releases, admin, private_targets):
    headers = {**admin, "Idempotency-Key": "subscribe-chat"}
    body = {"url": "http://127.0.0.1:9/hook", "events": ["*"]}
    first = releases.post("/releases/subscriptions", json=body, headers=headers)

    replay = releases.post("/releases/subscriptions", json=body, headers=headers)

    secret = first.get_json()["secret"]
    assert first.status_code == replay.status_code == 201 and secret.startswith("whsec_")
    assert replay.headers["Idempotent-Replayed"] == "true"
    replayed = replay.get_json()
    assert replayed["secret"] is None and "Idempotency-Key" in replayed["note"]
    assert {k: v for k, v in replayed.items() if k not in ("secret", "note")} == {
        k: v for k, v in first.get_json().items() if k != "secret"
    }
    with get_engine().connect() as conn:
        stored = [str(row._asdict()) for row in conn.execute(sa.select(idempotency_keys))]
    assert len(stored) == 1 and secret not in stored[0] and secret.removeprefix("whsec_") not in stored[0]
    assert len(releases.get("/releases/subscriptions", headers=admin).get_json()["items"]) == 1


def test_a_failed_delivery_is_retried_later_with_the_same_webhook_id(releases, admin, developer, private_targets):
    with receiver() as box:
        subscription = subscribe(releases, admin, box.url("/flaky"), events=["release.created"])
        ready_release(releases, developer)

        first = dispatch.run()
        too_soon = dispatch.run()
        later = dispatch.run(now=utcnow() + timedelta(seconds=10))

        assert first == {"delivered": 0, "failed": 1, "pending": 1}
        assert too_soon == {"delivered": 0, "failed": 0, "pending": 1}
        assert later == {"delivered": 1, "failed": 0, "pending": 0}
        ids = [r.headers["webhook-id"] for r in box.requests]
        assert len(ids) == 2 and ids[0] == ids[1]
        assert all(verified(subscription["secret"], r) for r in box.requests)
        (delivery,) = log_of(releases, admin, subscription)
        assert delivery["attempt"] == 2 and delivery["status"] == "succeeded" and delivery["response_status"] == 200


def test_ping_and_redeliver_send_signed_deliveries_redelivery_keeping_the_webhook_id(
    releases, admin, developer, private_targets
):
    with receiver() as box:
        subscription = subscribe(releases, admin, box.url("/ok"), events=["release.created"])
        base = f"/releases/subscriptions/{subscription['id']}"
        pinged = releases.post(f"{base}/ping", headers=admin)
        ready_release(releases, developer)
        dispatch.run()
        created = next(d for d in log_of(releases, admin, subscription) if d["event_type"] == "release.created")
        again = releases.post(f"{base}/deliveries/{created['id']}/redeliver", headers=admin)
        dispatch.run()

        assert pinged.status_code == 202 and again.status_code == 202
        types = [verified(subscription["secret"], r)["type"] for r in box.requests]
        assert types == ["ping", "release.created", "release.created"]
        assert box.requests[1].headers["webhook-id"] == box.requests[2].headers["webhook-id"]
        assert releases.post(f"{base}/ping", headers=developer).status_code == 403


def test_redeliver_sends_only_what_the_subscription_covers_now_and_the_caller_may_see(
    auth, releases, admin, developer, private_targets
):
    register_application(releases, admin, "edge")
    with receiver() as box:
        subscription = subscribe(releases, admin, box.url("/ok"), events=["release.created"])
        base = f"/releases/subscriptions/{subscription['id']}"
        ready_release(releases, developer, application="shop")
        ready_release(releases, developer, application="edge")
        dispatch.run()
        by_application = {
            d["event_type"] + ":" + verified(subscription["secret"], r)["data"]["application"]: d
            for d, r in zip(reversed(log_of(releases, admin, subscription)), box.requests, strict=True)
        }
        narrowed = releases.patch(base, json={"applications": ["edge"]}, headers=admin)
        edge_lead = make_user()
        bind(auth, admin, edge_lead, "admin", "edge")
        lead = bearer(access_token(edge_lead))

        shop_again = releases.post(
            f"{base}/deliveries/{by_application['release.created:shop']['id']}/redeliver", headers=admin
        )
        releases.patch(base, json={"events": ["release.ready"]}, headers=admin)
        edge_again = releases.post(
            f"{base}/deliveries/{by_application['release.created:edge']['id']}/redeliver", headers=lead
        )
        dispatch.run()

        assert narrowed.status_code == 200
        assert (shop_again.status_code, shop_again.get_json()["code"]) == (409, "event_not_covered")
        assert (edge_again.status_code, edge_again.get_json()["code"]) == (409, "event_not_covered")
        assert len(box.requests) == 2  # nothing was sent again
        assert len(log_of(releases, admin, subscription)) == 2


def test_a_410_disables_the_subscription_and_nothing_more_is_sent(releases, admin, developer, private_targets):
    with receiver() as box:
        subscription = subscribe(releases, admin, box.url("/gone"))
        ready_release(releases, developer, version="1.0.0")
        dispatch.run()
        ready_release(releases, developer, version="1.0.1")
        dispatch.run()

        found = releases.get(f"/releases/subscriptions/{subscription['id']}", headers=admin).get_json()
        assert found["active"] is False and "410" in found["disabled_reason"]
        assert len(box.requests) == 1


def test_a_change_that_rolls_back_sends_nothing(releases, admin, private_targets):
    user, _ = as_role("developer")
    with receiver() as box:
        subscribe(releases, admin, box.url("/ok"))
        with pytest.raises(RuntimeError), unit_of_work() as work:
            catalog.create_release(
                work,
                caller=Principal(
                    user_id=user["id"], email=user["email"], role="developer", grants=(Grant("developer"),)
                ),
                release=ReleaseIn(application="shop", version="9.9.9", title="x", status="ready"),
            )
            raise RuntimeError("the request failed after the change")
        answer = dispatch.run()

        with get_engine().connect() as conn:
            assert conn.scalar(events.select().with_only_columns(events.c.seq).limit(1)) is None
            assert conn.scalar(deliveries.select().with_only_columns(deliveries.c.id).limit(1)) is None
        assert answer == {"delivered": 0, "failed": 0, "pending": 0}
        assert box.requests == []


def test_two_dispatchers_racing_send_each_delivery_once(releases, admin, developer, private_targets):
    with receiver() as box:
        subscribe(releases, admin, box.url("/ok"))
        subscribe(releases, admin, box.url("/accepted"))
        for patch in range(6):
            ready_release(releases, developer, version=f"1.0.{patch}")  # 2 events each, to 2 subscriptions
        start = threading.Barrier(2)
        answers = []

        def dispatcher():
            start.wait()
            answers.append(dispatch.run())

        racers = [threading.Thread(target=dispatcher) for _ in range(2)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(timeout=60)

        sent = [(r.path, r.headers["webhook-id"]) for r in box.requests]
        assert len(sent) == 24 and len(set(sent)) == 24
        assert sum(a["delivered"] for a in answers) == 24


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/computeMetadata/v1/",
        "https://[::1]/hook",
        "https://localhost/hook",  # a name that resolves to loopback
    ],
)
def test_private_loopback_and_metadata_targets_are_refused_without_the_development_switch(releases, admin, url):
    response = releases.post("/releases/subscriptions", json={"url": url, "events": ["*"]}, headers=admin)

    assert response.status_code == 422 and response.get_json()["code"] == "target_not_allowed"
    assert releases.get("/releases/subscriptions", headers=admin).get_json()["items"] == []


def test_only_admins_of_every_listed_application_manage_a_subscription(releases, admin, manager, private_targets):
    body = {"url": "http://127.0.0.1:9/hook", "events": ["*"]}

    assert releases.post("/releases/subscriptions", json=body, headers=manager).status_code == 403
    unknown = releases.post("/releases/subscriptions", json=body | {"events": ["release.shipped"]}, headers=admin)
    assert unknown.status_code == 422 and unknown.get_json()["code"] == "unknown_event_type"
    made = subscribe(releases, admin, body["url"])
    assert releases.get(f"/releases/subscriptions/{made['id']}", headers=manager).status_code in (403, 404)


def test_a_slack_approval_request_says_what_who_may_approve_and_the_command(releases, admin, private_targets):
    _, author = as_role("developer")
    requester_user, requester = as_role("release_manager")
    register_application(releases, admin, "shop")
    with receiver() as box:
        subscribe(
            releases,
            admin,
            box.url("/ok"),
            events=["deployment.pending_approval"],
            applications=["shop"],
            format="slack",
        )
        release = ready_release(releases, author, notes="Faster checkout. " * 40)
        ship(releases, author, release["id"], "dev")
        ship(releases, author, release["id"], "staging")
        requested = deploy(releases, requester, release["id"], "production").get_json()
        dispatch.run()

    (message,) = [json.loads(r.body) for r in box.requests]
    text = json.dumps(message, ensure_ascii=False)
    assert requested["status"] == "pending_approval"
    assert all(fact in text for fact in ("shop", release["version"], "production", requester_user["email"]))
    assert "Faster checkout." in text and "…" in text  # the notes, shortened
    assert "release managers of shop in production" in text
    assert f"relman approve {requested['id']}" in text
    assert "1 release (nothing is live there yet): 1.0.0 1.0.0" in text  # what it changes in production
    assert message["text"].startswith("Approval needed")


def test_an_event_is_sent_right_after_the_commit_without_delaying_the_answer(
    releases, admin, developer, private_targets, after_commit
):
    # How soon after the commit the receiver hears of it is measured in `make bench`, not here.
    with receiver() as box:
        subscription = subscribe(releases, admin, box.url("/held"), events=["release.created"])
        release = ready_release(releases, developer)  # answered while the receiver still holds its delivery
        arrived = box.wait_for(1)  # nobody runs dispatch: the instance's own thread sends it
        unanswered_when_we_answered = box.answered == []
        box.release.set()
        deadline = time.monotonic() + 10
        while not (log := log_of(releases, admin, subscription)) or log[0]["status"] in ("pending", "retrying"):
            assert time.monotonic() < deadline, log
            time.sleep(0.01)

    assert arrived and unanswered_when_we_answered
    assert verified(subscription["secret"], box.requests[0])["data"]["release"]["id"] == release["id"]
    assert log[0]["status"] == "succeeded"  # a request that had waited for it would have timed it out


def test_with_a_topic_each_event_is_published_with_its_attributes(releases, developer, monkeypatch, stand_in):  # noqa: F811
    monkeypatch.setenv("PUBSUB_TOPIC", "projects/acme/topics/release-events")
    get_settings.cache_clear()
    release = ready_release(releases, developer)
    dispatch.run()
    monkeypatch.delenv("PUBSUB_TOPIC")
    get_settings.cache_clear()

    messages = stand_in.messages
    assert [m.attributes["type"] for m in messages] == ["release.created", "release.ready"]
    assert {m.attributes["release_id"] for m in messages} == {release["id"]}
    assert {m.attributes["application"] for m in messages} == {"shop"}
    assert json.loads(messages[0].data)["data"]["release"]["version"] == "1.0.0"
    assert dispatch.publish_pending(get_engine()) == 0  # none twice
