"""The releases function: environment locks ("stop the line", shared/deployments/locks.py): nothing
new starts in a locked environment (at request, at the approval that queues and at the start), the
refusal names who locked it, when and why, and only an admin's override with a reason passes."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from shared.deployments import gates
from shared.events import dispatch
from shared.events.tables import events
from shared.platform.db import get_engine
from shared.platform.settings import get_settings
from tests.factories import approve, as_role, deploy, ready_release, report, ship, work_at


def lock(client, headers, environment="production", **body):
    return client.post(
        "/releases/locks", json={"environment": environment, "reason": "INC-4711"} | body, headers=headers
    )


def locked(client, headers, environment="production", **body):
    response = lock(client, headers, environment, **body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def unlock(client, headers, lock_id, **body):
    return client.post(f"/releases/locks/{lock_id}/unlock", json=body, headers=headers)


@pytest.fixture
def subscribed(releases, monkeypatch):
    """A subscription to every event, so the events are stored (nobody receives them: the test reads them)."""
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    monkeypatch.setattr(dispatch, "wake", lambda: None)
    get_settings.cache_clear()
    _, admin = as_role("admin")
    made = releases.post(
        "/releases/subscriptions", json={"url": "http://127.0.0.1:9/hook", "events": ["*"]}, headers=admin
    )
    assert made.status_code == 201, made.get_json()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def lock_events():
    with get_engine().connect() as conn:
        rows = conn.execute(sa.select(events.c.type, events.c.body).order_by(events.c.seq)).all()
    return [(r.type, r.body["data"]) for r in rows if r.type.startswith("environment.")]


def test_a_locked_environment_refuses_new_deployments_naming_who_when_and_why(releases, developer, subscribed):
    manager_user, manager = as_role("release_manager")
    made = lock(releases, manager, "dev", reason="INC-4711: payments failing")
    release = ready_release(releases, developer)

    refused = deploy(releases, developer, release["id"], "dev")
    preflight = releases.post(
        f"/releases/{release['id']}/deployments/preflight", json={"environment": "dev"}, headers=developer
    ).get_json()
    unlocked = unlock(releases, manager, made.get_json()["id"], reason="Fixed")
    after = deploy(releases, developer, release["id"], "dev")

    assert made.status_code == 201
    assert made.headers["Location"].endswith(f"/releases/locks/{made.get_json()['id']}")
    assert made.get_json()["locked_by"]["email"] == manager_user["email"] and made.get_json()["active"] is True
    assert refused.status_code == 409 and refused.get_json()["code"] == "environment_locked"
    detail = refused.get_json()["detail"]
    assert manager_user["email"] in detail and "INC-4711: payments failing" in detail
    assert made.get_json()["locked_at"][:16] in detail  # when: the lock's own time
    assert [b["code"] for b in preflight["blocking"]] == ["environment_locked"]
    assert unlocked.status_code == 200 and unlocked.get_json()["active"] is False
    assert unlocked.get_json()["unlock_reason"] == "Fixed" and unlocked.get_json()["unlocked_by"]["email"]
    assert after.status_code == 201
    (locked_type, locked_data), (unlocked_type, unlocked_data) = lock_events()
    assert (locked_type, unlocked_type) == ("environment.locked", "environment.unlocked")
    assert locked_data["environment"] == "dev" and locked_data["lock"]["reason"] == "INC-4711: payments failing"
    assert locked_data["actor"]["email"] == manager_user["email"] and unlocked_data["lock"]["unlock_reason"] == "Fixed"


def test_a_lock_for_one_application_leaves_the_others_alone(releases, developer, manager):
    release = ready_release(releases, developer)
    locked(releases, manager, "dev", application="shop")

    shop = deploy(releases, developer, release["id"], "dev")
    cart = deploy(releases, developer, ready_release(releases, developer, application="cart")["id"], "dev")

    assert shop.status_code == 409 and "locked for shop" in shop.get_json()["detail"]
    assert cart.status_code == 201


def test_locking_needs_a_release_manager_and_one_lock_per_scope(releases, developer, manager):
    ready_release(releases, developer)  # registers shop
    first = locked(releases, manager)

    by_developer = lock(releases, developer)
    again = lock(releases, manager)
    other_scope = lock(releases, manager, application="shop")
    unknown = lock(releases, manager, "nowhere")

    assert by_developer.status_code == 403
    assert again.status_code == 409 and again.get_json()["code"] == "already_locked"
    assert first["id"] in again.get_json()["errors"][0]["message"]
    assert other_scope.status_code == 201
    assert unknown.status_code == 422 and unknown.get_json()["code"] == "unknown_environment"


def test_bad_lock_input_is_refused_and_changes_nothing(releases, manager):
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()

    no_reason = releases.post("/releases/locks", json={"environment": "production"}, headers=manager)
    in_the_past = lock(releases, manager, unlock_at=past)
    naive = lock(releases, manager, unlock_at="2030-01-01T10:00:00")
    unknown_app = lock(releases, manager, application="nope")

    assert no_reason.status_code == 422 and "reason" in [e["field"] for e in no_reason.get_json()["errors"]]
    assert in_the_past.status_code == 422 and in_the_past.get_json()["errors"][0]["field"] == "unlock_at"
    assert naive.status_code == 422
    assert unknown_app.status_code == 422 and unknown_app.get_json()["code"] == "unknown_application"
    assert releases.get("/releases/locks", headers=manager).get_json()["items"] == []


def test_unlocking_twice_or_an_unknown_lock(releases, manager):
    made = locked(releases, manager)

    first, second = unlock(releases, manager, made["id"]), unlock(releases, manager, made["id"])
    unknown = unlock(releases, manager, uuid.uuid4())

    assert first.status_code == 200
    assert second.status_code == 409 and second.get_json()["code"] == "not_locked"
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "lock_not_found"


def test_locks_list_newest_first_filter_and_page(releases, developer, manager):
    ready_release(releases, developer)  # registers shop
    old = locked(releases, manager, "dev")
    unlock(releases, manager, old["id"])
    staging = locked(releases, manager, "staging", application="shop")
    production = locked(releases, manager, "production")

    active = releases.get("/releases/locks?active=true", headers=manager).get_json()["items"]
    ended = releases.get("/releases/locks?active=false", headers=manager).get_json()["items"]
    of_cart = releases.get("/releases/locks?application=cart", headers=manager).get_json()["items"]
    first = releases.get("/releases/locks?limit=2", headers=manager)
    rest = releases.get(first.headers["Link"].split(";")[0].strip("<>"), headers=manager).get_json()["items"]
    one = releases.get(f"/releases/locks/{staging['id']}", headers=manager)
    unchanged = releases.get(
        f"/releases/locks/{staging['id']}", headers=manager | {"If-None-Match": one.headers["ETag"]}
    )

    assert [lock["id"] for lock in active] == [production["id"], staging["id"]]
    assert [lock["id"] for lock in ended] == [old["id"]]
    assert [lock["id"] for lock in of_cart] == [production["id"], old["id"]]  # every application's locks
    assert [lock["id"] for lock in first.get_json()["items"] + rest] == [production["id"], staging["id"], old["id"]]
    assert one.get_json()["application"] == "shop" and unchanged.status_code == 304


def test_a_lock_stops_a_queued_deployment_from_starting(releases, developer, manager):
    release = ready_release(releases, developer)
    queued = deploy(releases, developer, release["id"], "dev").get_json()
    locked(releases, manager, "dev")

    started = report(releases, developer, release["id"], queued["id"], "in_progress")
    cancelled = report(releases, developer, release["id"], queued["id"], "cancelled")

    assert started.status_code == 409 and started.get_json()["code"] == "environment_locked"
    assert cancelled.status_code == 200  # stopping is always allowed


def test_a_lock_holds_an_approval_that_would_queue(releases, awaiting_approval):
    _, approver = as_role("release_manager")
    locked(releases, approver)

    refused = approve(releases, awaiting_approval, approver)
    deployment = releases.get(
        f"/releases/{awaiting_approval['release']['id']}/deployments", headers=approver
    ).get_json()["items"][0]

    assert refused.status_code == 409 and refused.get_json()["code"] == "environment_locked"
    assert deployment["status"] == "pending_approval" and deployment["approvals"] == []


def test_an_admin_overrides_a_lock_with_a_reason_and_the_override_holds_to_the_start(releases, developer, manager):
    release = ready_release(releases, developer)
    made = locked(releases, manager, "dev")
    _, admin = as_role("admin")

    by_developer = deploy(releases, developer, release["id"], "dev", override_lock=True, reason="hotfix")
    without_reason = deploy(releases, admin, release["id"], "dev", override_lock=True)
    overridden = deploy(releases, admin, release["id"], "dev", override_lock=True, reason="Fix for INC-4711")
    started = report(releases, admin, release["id"], overridden.get_json()["id"], "in_progress")

    assert by_developer.status_code == 403 and by_developer.get_json()["code"] == "lock_override_forbidden"
    assert without_reason.status_code == 422
    assert overridden.status_code == 201 and overridden.get_json()["overridden_locks"] == [made["id"]]
    assert started.status_code == 200


def test_a_lock_stops_a_rollback_unless_an_admin_overrides_it(releases, developer, manager):
    ship(releases, developer, ready_release(releases, developer, version="1.0.0")["id"], "dev")
    ship(releases, developer, ready_release(releases, developer, version="1.1.0")["id"], "dev")
    locked(releases, manager, "dev")
    _, admin = as_role("admin")
    body = {"application": "shop", "environment": "dev", "reason": "1.1.0 is broken"}

    refused = releases.post("/releases/rollback", json=body, headers=manager)
    overridden = releases.post("/releases/rollback", json=body | {"override_lock": True}, headers=admin)

    assert refused.status_code == 409 and refused.get_json()["code"] == "environment_locked"
    assert overridden.status_code == 201 and overridden.get_json()["kind"] == "rollback"


def test_a_lock_with_an_unlock_time_ends_by_itself(releases, developer, manager):
    unlock_at = datetime.now(UTC) + timedelta(hours=2)
    locked(releases, manager, "dev", unlock_at=unlock_at.isoformat())
    release = ready_release(releases, developer)

    def dev_at(now):
        with work_at(now) as work:
            return gates.preflight(work, release_id=uuid.UUID(release["id"]), environment="dev")

    before, at = dev_at(unlock_at - timedelta(seconds=1)), dev_at(unlock_at)

    assert [b["code"] for b in before["blocking"]] == ["environment_locked"]
    assert "until " + unlock_at.isoformat()[:16] in before["blocking"][0]["detail"]
    assert at["allowed"] is True


def test_a_lock_racing_a_start_never_lets_the_start_pass_a_committed_lock(apps):
    """The lock holds the environment's row FOR UPDATE, the start FOR SHARE: whichever commits first,
    the other sees it. So a start that succeeded began before the lock did, every time."""
    client = apps["releases"].test_client()
    developer = as_role("developer")[1]
    manager = as_role("release_manager")[1]
    outcomes = []
    for round in range(8):
        release = ready_release(client, developer, application=f"race{round}")
        queued = deploy(client, developer, release["id"], "dev").get_json()
        barrier = threading.Barrier(2)
        answers: dict[str, object] = {}

        def start(release_id, deployment_id, barrier, answers):
            own = apps["releases"].test_client()
            barrier.wait()
            answers["start"] = report(own, developer, release_id, deployment_id, "in_progress")

        def stop(application, barrier, answers):
            own = apps["releases"].test_client()
            barrier.wait()
            answers["lock"] = lock(own, manager, "dev", application=application)

        threads = [
            threading.Thread(target=start, args=(release["id"], queued["id"], barrier, answers)),
            threading.Thread(target=stop, args=(f"race{round}", barrier, answers)),
        ]
        [t.start() for t in threads]
        [t.join() for t in threads]
        started, made = answers["start"], answers["lock"]
        assert made.status_code == 201
        if started.status_code == 200:
            assert started.get_json()["started_at"] <= made.get_json()["locked_at"]
        else:
            assert started.get_json()["code"] == "environment_locked"
        outcomes.append(started.status_code)

    assert set(outcomes) <= {200, 409}
