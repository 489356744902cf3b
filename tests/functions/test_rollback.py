"""The releases function: rolling back to the previous good release (shared/deployments/rollback.py)."""

from datetime import UTC, datetime, timedelta

from tests.factories import ready_release, report, ship

# -- rollback -------------------------------------------------------------------------------------


def test_rollback_redeploys_the_previous_good_release_and_marks_the_replaced_one(releases, developer, manager):
    v1, v2 = ready_release(releases, developer, version="1.0.0"), ready_release(releases, developer, version="1.1.0")
    ship(releases, developer, v1["id"], "dev")
    replaced = ship(releases, developer, v2["id"], "dev")

    response = releases.post(
        "/releases/rollback", json={"application": "shop", "environment": "dev", "reason": "Errors up"}, headers=manager
    )

    assert response.status_code == 201
    rollback = response.get_json()
    assert (rollback["kind"], rollback["status"], rollback["release_id"]) == ("rollback", "queued", v1["id"])
    report(releases, developer, v1["id"], rollback["id"], "in_progress")
    report(releases, developer, v1["id"], rollback["id"], "succeeded")
    replaced_now = releases.get(f"/releases/{v2['id']}/deployments", headers=developer).get_json()["items"][0]
    assert replaced_now["id"] == replaced["id"] and replaced_now["status"] == "rolled_back"
    overview = releases.get("/releases/overview?application=shop", headers=developer).get_json()
    assert overview["environments"]["dev"]["live"]["release_id"] == v1["id"]


def test_rollback_skips_cancelled_releases(releases, developer, manager):
    v1, v2, v3 = (ready_release(releases, developer, version=v) for v in ("1.0.0", "1.1.0", "1.2.0"))
    for release in (v1, v2, v3):
        ship(releases, developer, release["id"], "dev")
    releases.post(f"/releases/{v2['id']}/cancel", json={"reason": "Data corruption bug"}, headers=developer)

    rollback = releases.post(
        "/releases/rollback", json={"application": "shop", "environment": "dev", "reason": "x"}, headers=manager
    )

    assert rollback.get_json()["release_id"] == v1["id"]


def test_rollback_is_allowed_in_a_freeze_and_needs_no_approval(releases, developer, manager):
    v1, v2 = ready_release(releases, developer, version="1.0.0"), ready_release(releases, developer, version="1.1.0")
    for release in (v1, v2):
        ship(releases, developer, release["id"], "dev")
        ship(releases, developer, release["id"], "staging")
        ship(releases, developer, release["id"], "production", approver=manager)
    now = datetime.now(UTC)
    releases.post(
        "/releases/freezes",
        json={"starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat(), "reason": "freeze"},
        headers=manager,
    )

    response = releases.post(
        "/releases/rollback",
        json={"application": "shop", "environment": "production", "reason": "Pager"},
        headers=manager,
    )

    assert response.status_code == 201
    assert response.get_json()["status"] == "queued"


def test_rollback_needs_a_release_manager_and_a_target(releases, developer, manager):
    body = {"application": "shop", "environment": "dev", "reason": "x"}

    assert releases.post("/releases/rollback", json=body, headers=developer).status_code == 403
    nothing = releases.post("/releases/rollback", json=body, headers=manager)
    assert nothing.status_code == 409
    assert nothing.get_json()["code"] == "no_rollback_target"
