"""The releases function, part 2: environments, deployments, gates, approvals, freezes, rollback."""

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared import clock
from tests.factories import as_role

SHA = "c" * 40


@pytest.fixture
def developer():
    return as_role("developer")[1]


@pytest.fixture
def manager():
    return as_role("release_manager")[1]


@pytest.fixture
def admin():
    return as_role("admin")[1]


def ready_release(client, headers, application="shop", version="1.0.0", **extra):
    body = {"application": application, "version": version, "title": version, "status": "ready"} | extra
    response = client.post("/releases", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def deploy(client, headers, release_id, environment, **extra):
    return client.post(
        f"/releases/{release_id}/deployments", json={"environment": environment, **extra}, headers=headers
    )


def report(client, headers, release_id, deployment_id, status, **extra):
    return client.patch(
        f"/releases/{release_id}/deployments/{deployment_id}", json={"status": status, **extra}, headers=headers
    )


def ship(client, headers, release_id, environment, approver=None):
    """Deploy and report success, approving first where the stage needs it."""
    response = deploy(client, headers, release_id, environment)
    assert response.status_code == 201, response.get_json()
    deployment = response.get_json()
    if deployment["status"] == "pending_approval":
        decided = client.post(
            f"/releases/{release_id}/deployments/{deployment['id']}/approvals",
            json={"decision": "approve", "comment": "LGTM"},
            headers=approver,
        )
        assert decided.status_code == 201, decided.get_json()
    assert report(client, headers, release_id, deployment["id"], "in_progress").status_code == 200
    done = report(client, headers, release_id, deployment["id"], "succeeded")
    assert done.status_code == 200, done.get_json()
    return done.get_json()


# -- environments ---------------------------------------------------------------------------------


def test_the_default_path_is_dev_staging_production(releases, developer):
    items = releases.get("/releases/environments", headers=developer).get_json()["items"]

    assert [(e["name"], e["required_approvals"], e["soak_minutes"]) for e in items] == [
        ("dev", 0, 0),
        ("staging", 0, 0),
        ("production", 1, 0),
    ]


def test_admins_change_an_environment_and_add_one(releases, admin, manager):
    changed = releases.put(
        "/releases/environments/staging",
        json={"position": 2, "required_approvals": 1, "soak_minutes": 30},
        headers=admin,
    )
    added = releases.put("/releases/environments/qa", json={"position": 4}, headers=admin)
    refused = releases.put("/releases/environments/staging", json={"position": 2}, headers=manager)

    assert changed.status_code == 200 and changed.get_json()["soak_minutes"] == 30
    assert added.status_code == 201
    assert refused.status_code == 403


def test_two_environments_cannot_share_a_position(releases, admin):
    response = releases.put("/releases/environments/qa", json={"position": 1}, headers=admin)

    assert response.status_code == 409
    assert response.get_json()["code"] == "position_taken"


# -- deploying and reporting ----------------------------------------------------------------------


def test_a_release_walks_from_dev_to_production_with_an_approval(releases, developer, manager):
    release = ready_release(releases, developer)
    ship(releases, developer, release["id"], "dev")
    ship(releases, developer, release["id"], "staging")

    production = deploy(releases, developer, release["id"], "production")
    assert production.status_code == 201
    assert production.get_json()["status"] == "pending_approval"
    assert production.headers["Location"].endswith(production.get_json()["id"])

    approved = releases.post(
        f"/releases/{release['id']}/deployments/{production.get_json()['id']}/approvals",
        json={"decision": "approve", "comment": "Change ticket 42"},
        headers=manager,
    )
    assert approved.status_code == 201
    assert approved.get_json()["deployment"]["status"] == "queued"

    dep_id = production.get_json()["id"]
    started = report(releases, developer, release["id"], dep_id, "in_progress", log_url="https://ci.example.com/run/1")
    finished = report(releases, developer, release["id"], dep_id, "succeeded", message="All pods healthy")
    assert started.get_json()["started_at"] is not None
    assert finished.get_json()["finished_at"] is not None
    assert finished.get_json()["log_url"] == "https://ci.example.com/run/1"

    summary = releases.get(f"/releases/{release['id']}", headers=developer).get_json()["deployments"]
    assert {env: (s["status"], s["live"]) for env, s in summary.items()} == {
        "dev": ("succeeded", True),
        "staging": ("succeeded", True),
        "production": ("succeeded", True),
    }
    live = releases.get("/releases?environment=production", headers=developer).get_json()["items"]
    assert [r["id"] for r in live] == [release["id"]]


def test_status_moves_only_forward(releases, developer):
    release = ready_release(releases, developer)
    deployment = deploy(releases, developer, release["id"], "dev").get_json()
    report(releases, developer, release["id"], deployment["id"], "in_progress")
    report(releases, developer, release["id"], deployment["id"], "failed")

    backwards = report(releases, developer, release["id"], deployment["id"], "in_progress")
    late_cancel = report(releases, developer, release["id"], deployment["id"], "cancelled")

    assert backwards.status_code == late_cancel.status_code == 409
    assert backwards.get_json()["code"] == "invalid_transition"


def test_a_pipeline_cannot_set_timestamps_or_unknown_statuses(releases, developer):
    release = ready_release(releases, developer)
    deployment = deploy(releases, developer, release["id"], "dev").get_json()

    response = report(
        releases, developer, release["id"], deployment["id"], "in_progress", started_at="2020-01-01T00:00:00Z"
    )
    unknown = report(releases, developer, release["id"], deployment["id"], "rolled_back")

    assert response.status_code == unknown.status_code == 422


def test_viewers_read_but_cannot_deploy(releases, developer, viewer_headers):
    release = ready_release(releases, developer)

    assert deploy(releases, viewer_headers, release["id"], "dev").status_code == 403
    assert releases.get(f"/releases/{release['id']}/deployments", headers=viewer_headers).status_code == 200


@pytest.fixture
def viewer_headers():
    return as_role("viewer")[1]


def test_deployments_are_listed_per_release_and_across_releases(releases, developer):
    first = ready_release(releases, developer, version="1.0.0")
    second = ready_release(releases, developer, application="cart", version="2.0.0")
    ship(releases, developer, first["id"], "dev")
    ship(releases, developer, second["id"], "dev")

    per_release = releases.get(f"/releases/{first['id']}/deployments", headers=developer).get_json()["items"]
    filtered = releases.get("/releases/deployments?application=cart&status=succeeded", headers=developer).get_json()[
        "items"
    ]

    assert [d["release_id"] for d in per_release] == [first["id"]]
    assert [d["application"] for d in filtered] == ["cart"]


def test_an_unknown_environment_is_422(releases, developer):
    release = ready_release(releases, developer)

    response = deploy(releases, developer, release["id"], "moon")

    assert response.status_code == 422
    assert response.get_json()["code"] == "unknown_environment"


# -- gates ----------------------------------------------------------------------------------------


def test_a_draft_is_not_deployable(releases, developer):
    draft = releases.post(
        "/releases", json={"application": "shop", "version": "1.0.0", "title": "x"}, headers=developer
    ).get_json()

    response = deploy(releases, developer, draft["id"], "dev")

    assert response.status_code == 409
    assert response.get_json()["code"] == "release_not_ready"


def test_promotion_must_follow_the_path(releases, developer):
    release = ready_release(releases, developer)

    response = deploy(releases, developer, release["id"], "production")

    assert response.status_code == 409
    assert response.get_json()["code"] == "promotion_required"


def test_soak_time_holds_a_promotion_until_it_has_passed(releases, developer, admin, monkeypatch):
    releases.put("/releases/environments/dev", json={"position": 1, "soak_minutes": 60}, headers=admin)
    release = ready_release(releases, developer)
    ship(releases, developer, release["id"], "dev")

    early = deploy(releases, developer, release["id"], "staging")
    monkeypatch.setattr(clock, "utcnow", lambda: datetime.now(UTC) + timedelta(minutes=61))
    later = deploy(releases, developer, release["id"], "staging")

    assert early.status_code == 409
    assert early.get_json()["code"] == "soak_time_pending"
    assert later.status_code == 201


def test_one_deployment_at_a_time_per_application_and_environment(releases, developer):
    first, second = (
        ready_release(releases, developer, version="1.0.0"),
        ready_release(releases, developer, version="1.1.0"),
    )
    deploy(releases, developer, first["id"], "dev")

    response = deploy(releases, developer, second["id"], "dev")

    assert response.status_code == 409
    assert response.get_json()["code"] == "deployment_in_progress"
    assert (
        deploy(releases, developer, ready_release(releases, developer, application="cart")["id"], "dev").status_code
        == 201
    )


def test_every_failing_gate_is_reported_and_the_first_is_the_code(releases, developer, manager):
    draft = releases.post(
        "/releases", json={"application": "shop", "version": "2.0.0", "title": "x"}, headers=developer
    ).get_json()
    busy = ready_release(releases, developer, version="1.0.0")
    ship(releases, developer, busy["id"], "dev")
    ship(releases, developer, busy["id"], "staging")
    deploy(releases, developer, busy["id"], "production")
    now = datetime.now(UTC)
    releases.post(
        "/releases/freezes",
        json={
            "environment": "production",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "reason": "Black Friday",
        },
        headers=manager,
    )

    response = deploy(releases, developer, draft["id"], "production")

    body = response.get_json()
    assert response.status_code == 409
    assert body["code"] == "release_not_ready"
    assert [e["code"] for e in body["errors"]] == [
        "release_not_ready",
        "promotion_required",
        "environment_frozen",
        "deployment_in_progress",
    ]
    assert "Black Friday" in body["errors"][2]["message"]


def test_preflight_lists_every_blocker_and_writes_nothing(releases, developer):
    release = ready_release(releases, developer)

    response = releases.post(
        f"/releases/{release['id']}/deployments/preflight", json={"environment": "production"}, headers=developer
    )
    ok = releases.post(
        f"/releases/{release['id']}/deployments/preflight", json={"environment": "dev"}, headers=developer
    )

    assert response.status_code == 200
    assert response.get_json() == {
        "allowed": False,
        "needs_approval": True,
        "blocking": [{"code": "promotion_required", "detail": response.get_json()["blocking"][0]["detail"]}],
    }
    assert ok.get_json() == {"allowed": True, "needs_approval": False, "blocking": []}
    assert releases.get(f"/releases/{release['id']}/deployments", headers=developer).get_json()["items"] == []


def test_ten_racing_deployments_give_exactly_one_201(apps, developer):
    client = apps["releases"].test_client()
    release = ready_release(client, developer)
    statuses: list[int] = []
    barrier = threading.Barrier(10)

    def request():
        own = apps["releases"].test_client()
        barrier.wait()
        statuses.append(deploy(own, developer, release["id"], "dev").status_code)

    threads = [threading.Thread(target=request) for _ in range(10)]
    [t.start() for t in threads]
    [t.join() for t in threads]

    assert sorted(statuses) == [201] + [409] * 9


# -- freezes --------------------------------------------------------------------------------------


def test_a_freeze_blocks_and_an_admin_may_override_it_with_a_reason(releases, developer, manager, admin):
    release = ready_release(releases, developer)
    now = datetime.now(UTC)
    freeze = releases.post(
        "/releases/freezes",
        json={
            "starts_at": (now - timedelta(minutes=5)).isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
            "reason": "Year-end",
        },
        headers=manager,
    )
    assert freeze.status_code == 201 and freeze.get_json()["active"] is True

    blocked = deploy(releases, developer, release["id"], "dev")
    not_admin = deploy(releases, manager, release["id"], "dev", override_freeze=True, reason="hotfix")
    no_reason = deploy(releases, admin, release["id"], "dev", override_freeze=True)
    overridden = deploy(releases, admin, release["id"], "dev", override_freeze=True, reason="Security hotfix")

    assert blocked.get_json()["code"] == "environment_frozen"
    assert not_admin.status_code == 403
    assert no_reason.status_code == 422 and no_reason.get_json()["errors"][0]["field"] == "reason"
    assert overridden.status_code == 201
    assert overridden.get_json()["override_freeze"] is True


def test_freeze_windows_are_listed_and_deleted(releases, developer, manager):
    created = releases.post(
        "/releases/freezes",
        json={
            "environment": "production",
            "weekly": [{"day": "fri", "start": "16:00", "end": "23:59"}],
            "timezone": "Europe/Berlin",
            "reason": "No Friday deploys",
        },
        headers=manager,
    ).get_json()

    listed = releases.get("/releases/freezes", headers=developer).get_json()["items"]
    assert [f["id"] for f in listed] == [created["id"]]
    assert releases.post("/releases/freezes", json={"reason": "x", "weekly": []}, headers=developer).status_code == 403
    assert releases.delete(f"/releases/freezes/{created['id']}", headers=manager).status_code == 204
    assert releases.get("/releases/freezes", headers=developer).get_json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "x"}, "starts_at"),
        ({"reason": "x", "starts_at": "2026-12-02T00:00:00Z", "ends_at": "2026-12-01T00:00:00Z"}, "ends_at"),
        ({"reason": "x", "weekly": [{"day": "fri", "start": "16:00", "end": "18:00"}]}, "timezone"),
        (
            {"reason": "x", "weekly": [{"day": "fri", "start": "16:00", "end": "18:00"}], "timezone": "Mars/Olympus"},
            "timezone",
        ),
        (
            {"reason": "x", "weekly": [{"day": "someday", "start": "16:00", "end": "18:00"}], "timezone": "UTC"},
            "weekly.0.day",
        ),
        (
            {"reason": "x", "weekly": [{"day": "fri", "start": "25:00", "end": "18:00"}], "timezone": "UTC"},
            "weekly.0.start",
        ),
        ({"reason": "x", "starts_at": "2026-12-01T00:00:00", "ends_at": "2026-12-02T00:00:00Z"}, "starts_at"),
    ],
)
def test_invalid_freezes_are_422_naming_the_field(releases, manager, body, field):
    response = releases.post("/releases/freezes", json=body, headers=manager)

    assert response.status_code == 422
    assert field in [e["field"] for e in response.get_json()["errors"]]


def test_a_weekly_freeze_blocks_on_its_day_in_its_zone(releases, developer, manager, monkeypatch):
    releases.post(
        "/releases/freezes",
        json={
            "weekly": [{"day": "fri", "start": "16:00", "end": "23:59"}],
            "timezone": "Europe/Berlin",
            "reason": "No Friday deploys",
        },
        headers=manager,
    )
    release = ready_release(releases, developer)

    monkeypatch.setattr(clock, "utcnow", lambda: datetime(2026, 11, 27, 14, 59, tzinfo=UTC))  # 15:59 in Berlin
    before = releases.post(
        f"/releases/{release['id']}/deployments/preflight", json={"environment": "dev"}, headers=developer
    )
    monkeypatch.setattr(clock, "utcnow", lambda: datetime(2026, 11, 27, 15, 0, tzinfo=UTC))  # 16:00 in Berlin
    during = releases.post(
        f"/releases/{release['id']}/deployments/preflight", json={"environment": "dev"}, headers=developer
    )

    assert before.get_json()["allowed"] is True
    assert [b["code"] for b in during.get_json()["blocking"]] == ["environment_frozen"]


# -- approvals ------------------------------------------------------------------------------------


@pytest.fixture
def awaiting_approval(releases):
    _, author = as_role("developer")
    _, requester = as_role("release_manager")
    release = ready_release(releases, author)
    ship(releases, author, release["id"], "dev")
    ship(releases, author, release["id"], "staging")
    deployment = deploy(releases, requester, release["id"], "production").get_json()
    return {"release": release, "deployment": deployment, "author": author, "requester": requester}


def approve(releases, case, headers, decision="approve"):
    return releases.post(
        f"/releases/{case['release']['id']}/deployments/{case['deployment']['id']}/approvals",
        json={"decision": decision, "comment": "ok"},
        headers=headers,
    )


def test_developers_cannot_approve(releases, awaiting_approval):
    assert approve(releases, awaiting_approval, as_role("developer")[1]).status_code == 403


def test_the_author_and_the_requester_cannot_approve(releases, awaiting_approval):
    from shared.auth import service as auth_service
    from shared.db import unit_of_work
    from tests.factories import access_token, bearer

    by_requester = approve(releases, awaiting_approval, awaiting_approval["requester"])
    assert by_requester.status_code == 403
    assert by_requester.get_json()["code"] == "self_approval"

    # The author, promoted to release manager since, still may not approve their own release.
    author_id = awaiting_approval["release"]["created_by"]
    with unit_of_work() as work:
        auth_service.update_user(work, user_id=uuid.UUID(author_id), actor="test", role="release_manager")
    by_author = approve(releases, awaiting_approval, bearer(access_token({"id": author_id, "role": "release_manager"})))
    assert by_author.status_code == 403
    assert by_author.get_json()["code"] == "self_approval"


def test_one_decision_per_person(releases, awaiting_approval, admin):
    releases.put("/releases/environments/production", json={"position": 3, "required_approvals": 2}, headers=admin)
    manager = as_role("release_manager")[1]

    first = approve(releases, awaiting_approval, manager)
    second = approve(releases, awaiting_approval, manager)

    assert first.status_code == 201 and first.get_json()["deployment"]["status"] == "pending_approval"
    assert second.status_code == 409
    assert second.get_json()["code"] == "already_decided"
    assert approve(releases, awaiting_approval, admin).get_json()["deployment"]["status"] == "queued"


def test_one_rejection_rejects(releases, awaiting_approval, manager):
    response = approve(releases, awaiting_approval, manager, decision="reject")

    assert response.get_json()["deployment"]["status"] == "rejected"
    assert approve(releases, awaiting_approval, as_role("admin")[1]).status_code == 409


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


def test_a_cancelled_release_is_never_deployable_again(releases, developer):
    release = ready_release(releases, developer)
    releases.post(f"/releases/{release['id']}/cancel", json={"reason": "bad"}, headers=developer)

    assert deploy(releases, developer, release["id"], "dev").get_json()["code"] == "release_not_ready"


# -- overview and audit ---------------------------------------------------------------------------


def test_overview_shows_live_previous_and_under_way_per_environment(releases, developer):
    v1, v2, v3 = (ready_release(releases, developer, version=v) for v in ("1.0.0", "1.1.0", "1.2.0"))
    ship(releases, developer, v1["id"], "dev")
    ship(releases, developer, v2["id"], "dev")
    deploy(releases, developer, v3["id"], "dev")

    dev = releases.get("/releases/overview?application=shop", headers=developer).get_json()["environments"]["dev"]

    assert dev["live"]["version"] == "1.1.0"
    assert dev["previous"]["version"] == "1.0.0"
    assert dev["in_progress"]["version"] == "1.2.0"


def test_overview_needs_an_application(releases, developer):
    assert releases.get("/releases/overview", headers=developer).status_code == 422


def test_deployment_changes_are_audited(releases, developer):
    _, admin = as_role("admin")
    release = ready_release(releases, developer)
    ship(releases, developer, release["id"], "dev")

    actions = [
        e["action"] for e in releases.get("/releases/audit?entity_type=deployment", headers=admin).get_json()["items"]
    ]

    assert actions == ["deployment.requested", "deployment.status_changed", "deployment.status_changed"]


def test_a_stale_if_match_on_a_status_report_is_412_and_changes_nothing(releases, developer):
    release = ready_release(releases, developer)
    created = deploy(releases, developer, release["id"], "dev")
    etag = created.headers["ETag"]
    report(releases, developer, release["id"], created.get_json()["id"], "in_progress")

    stale = releases.patch(
        f"/releases/{release['id']}/deployments/{created.get_json()['id']}",
        json={"status": "succeeded"},
        headers={**developer, "If-Match": etag},
    )

    assert stale.status_code == 412
    listed = releases.get(f"/releases/{release['id']}/deployments", headers=developer).get_json()["items"]
    assert listed[0]["status"] == "in_progress"


def test_a_stale_if_match_on_an_environment_is_412(releases, admin):
    current = releases.get("/releases/environments", headers=admin).get_json()["items"][0]

    stale = releases.put(
        "/releases/environments/dev", json={"position": 1, "soak_minutes": 5}, headers={**admin, "If-Match": '"nope"'}
    )
    fresh = releases.put("/releases/environments/dev", json={"position": 1, "soak_minutes": 5}, headers=admin)

    assert stale.status_code == 412
    assert current["soak_minutes"] == 0 and fresh.get_json()["soak_minutes"] == 5


def test_environment_and_freeze_lists_page_like_every_list(releases, developer, manager):
    for day in ("mon", "tue", "wed"):
        releases.post(
            "/releases/freezes",
            json={"weekly": [{"day": day, "start": "01:00", "end": "02:00"}], "timezone": "UTC", "reason": day},
            headers=manager,
        )

    environments = releases.get("/releases/environments?limit=2", headers=developer)
    first = releases.get("/releases/freezes?limit=2", headers=developer).get_json()
    second = releases.get(f"/releases/freezes?limit=2&cursor={first['next_cursor']}", headers=developer).get_json()

    assert [e["name"] for e in environments.get_json()["items"]] == ["dev", "staging"]
    assert 'rel="next"' in environments.headers["Link"]
    assert [f["reason"] for f in first["items"] + second["items"]] == ["mon", "tue", "wed"]
    assert second["next_cursor"] is None


def test_weekly_windows_take_full_day_names_and_seconds(releases, manager):
    response = releases.post(
        "/releases/freezes",
        json={"weekly": [{"day": "Friday", "start": "16:00:00", "end": "23:59"}], "timezone": "UTC", "reason": "x"},
        headers=manager,
    )

    assert response.status_code == 201
    assert response.get_json()["weekly"] == [{"day": "fri", "start": "16:00", "end": "23:59"}]


# -- gates hold at every step ---------------------------------------------------------------------


def cancel(client, headers, release_id, reason="Data corruption bug"):
    return client.post(f"/releases/{release_id}/cancel", json={"reason": reason}, headers=headers)


def deployment_of(client, headers, release_id, deployment_id):
    items = client.get(f"/releases/{release_id}/deployments", headers=headers).get_json()["items"]
    return next(d for d in items if d["id"] == deployment_id)


def audit_of(client, entity_id):
    _, admin = as_role("admin")
    items = client.get("/releases/audit?limit=100", headers=admin).get_json()["items"]
    return [e for e in items if e["entity_id"] == entity_id]


def freeze_now(client, headers, environment=None):
    now = datetime.now(UTC)
    body = {"starts_at": (now - timedelta(minutes=1)).isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()}
    response = client.post(
        "/releases/freezes", json=body | {"environment": environment, "reason": "Launch day"}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_cancelled_release_never_ships_its_deployment_awaiting_approval(releases, awaiting_approval, manager):
    case = awaiting_approval
    release_id, dep_id = case["release"]["id"], case["deployment"]["id"]

    assert cancel(releases, case["author"], release_id).status_code == 200
    approved = approve(releases, case, manager)
    started = report(releases, case["author"], release_id, dep_id, "in_progress")

    assert approved.status_code == 409 and approved.get_json()["code"] == "not_pending_approval"
    assert started.status_code == 409
    deployment = deployment_of(releases, manager, release_id, dep_id)
    assert (deployment["status"], deployment["approvals"]) == ("cancelled", [])
    assert deployment["finished_at"] is not None
    [event] = [e for e in audit_of(releases, dep_id) if e["action"] == "deployment.cancelled"]
    assert event["data"] == {"from": "pending_approval", "reason": "Data corruption bug"}
    assert releases.get("/releases?environment=production", headers=manager).get_json()["items"] == []


def test_a_cancelled_release_never_ships_its_queued_deployment(releases, developer):
    release = ready_release(releases, developer)
    queued = deploy(releases, developer, release["id"], "dev").get_json()
    assert queued["status"] == "queued"

    cancelled = cancel(releases, developer, release["id"])
    started = report(releases, developer, release["id"], queued["id"], "in_progress")

    assert cancelled.status_code == 200
    assert cancelled.get_json()["deployments"]["dev"]["status"] == "cancelled"
    assert started.status_code == 409
    assert deployment_of(releases, developer, release["id"], queued["id"])["status"] == "cancelled"
    # The environment is free again for the next release.
    fixed = ready_release(releases, developer, version="1.0.1")
    assert deploy(releases, developer, fixed["id"], "dev").status_code == 201


def test_a_running_deployment_of_a_cancelled_release_is_left_to_its_pipeline_and_named(releases, developer, manager):
    release = ready_release(releases, developer)
    running = deploy(releases, developer, release["id"], "dev").get_json()
    report(releases, developer, release["id"], running["id"], "in_progress")

    assert cancel(releases, developer, release["id"]).status_code == 200

    [event] = [e for e in audit_of(releases, release["id"]) if e["action"] == "release.cancelled"]
    assert event["data"]["deployments_left_running"] == [running["id"]]
    assert event["data"]["deployments_cancelled"] == []
    # The pipeline tells the truth about what ran; a rollback is the way back, never to this release.
    assert report(releases, developer, release["id"], running["id"], "failed").get_json()["status"] == "failed"
    assert deploy(releases, developer, release["id"], "dev").get_json()["code"] == "release_not_ready"


def race_cancels_against_deployments(apps, headers, release_id, cancels=3, deployments=7):
    """Cancel requests and dev deployment requests for one release, released at once; (kind, status) each."""
    results: list[tuple[str, int]] = []
    barrier = threading.Barrier(cancels + deployments)

    def act(kind):
        own = apps["releases"].test_client()
        barrier.wait()
        response = cancel(own, headers, release_id) if kind == "cancel" else deploy(own, headers, release_id, "dev")
        results.append((kind, response.status_code))

    threads = [threading.Thread(target=act, args=(k,)) for k in ["cancel"] * cancels + ["deploy"] * deployments]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return results


def test_ten_racing_cancels_and_deployments_leave_no_active_deployment_of_a_cancelled_release(apps, developer):
    client = apps["releases"].test_client()
    # Each round, 3 cancels race 7 deployment requests; over 5 rounds a deployment wins the release
    # lock first in some round (before the fix, that deployment stayed queued for a cancelled release).
    for round_ in range(5):
        release = ready_release(client, developer, application=f"race-{round_}")

        results = race_cancels_against_deployments(apps, developer, release["id"])

        assert sorted(s for k, s in results if k == "cancel") == [200, 409, 409]
        assert sorted(s for k, s in results if k == "deploy") in ([409] * 7, [201] + [409] * 6)
        after = client.get(f"/releases/{release['id']}/deployments", headers=developer).get_json()["items"]
        assert [d["status"] for d in after] in ([], ["cancelled"])
        assert client.get(f"/releases/{release['id']}", headers=developer).get_json()["status"] == "cancelled"


def test_a_freeze_that_opens_after_the_request_holds_the_approval_and_the_start(
    releases, awaiting_approval, developer, manager
):
    case = awaiting_approval
    other = ready_release(releases, developer, application="cart")
    queued = deploy(releases, developer, other["id"], "dev").get_json()
    freeze = freeze_now(releases, manager)

    approved = approve(releases, case, manager)
    started = report(releases, developer, other["id"], queued["id"], "in_progress")

    assert approved.status_code == 409 and approved.get_json()["code"] == "environment_frozen"
    assert started.status_code == 409 and started.get_json()["code"] == "environment_frozen"
    waiting = deployment_of(releases, manager, case["release"]["id"], case["deployment"]["id"])
    assert (waiting["status"], waiting["approvals"]) == ("pending_approval", [])
    assert deployment_of(releases, developer, other["id"], queued["id"])["status"] == "queued"

    # Once the freeze is lifted, the same approval and the same report go through.
    assert releases.delete(f"/releases/freezes/{freeze['id']}", headers=manager).status_code == 204
    assert approve(releases, case, manager).get_json()["deployment"]["status"] == "queued"
    assert report(releases, developer, other["id"], queued["id"], "in_progress").status_code == 200


def test_a_freeze_of_another_environment_does_not_hold_the_start(releases, developer, manager):
    release = ready_release(releases, developer)
    queued = deploy(releases, developer, release["id"], "dev").get_json()
    freeze_now(releases, manager, environment="production")

    assert report(releases, developer, release["id"], queued["id"], "in_progress").status_code == 200


def test_an_admins_override_at_request_time_and_a_rollback_still_start_in_a_freeze(releases, developer, manager, admin):
    v1, v2 = ready_release(releases, developer, version="1.0.0"), ready_release(releases, developer, version="1.1.0")
    ship(releases, developer, v1["id"], "dev")
    freeze_now(releases, manager)
    overridden = deploy(releases, admin, v2["id"], "dev", override_freeze=True, reason="Security hotfix").get_json()

    assert report(releases, developer, v2["id"], overridden["id"], "in_progress").status_code == 200
    assert report(releases, developer, v2["id"], overridden["id"], "succeeded").status_code == 200
    rollback = releases.post(
        "/releases/rollback", json={"application": "shop", "environment": "dev", "reason": "Pager"}, headers=manager
    ).get_json()
    assert report(releases, developer, v1["id"], rollback["id"], "in_progress").status_code == 200


def test_whoever_edited_or_finalized_a_release_cannot_approve_it(releases, developer):
    _, editor = as_role("release_manager")
    _, finalizer = as_role("release_manager")
    _, requester = as_role("developer")
    _, reviewer = as_role("release_manager")
    draft = releases.post(
        "/releases", json={"application": "shop", "version": "1.0.0", "title": "1.0.0"}, headers=developer
    ).get_json()
    swapped = [{"name": "image", "uri": "registry.example.com/shop:1.0.0", "digest": "sha256:" + "e" * 64}]
    assert releases.patch(f"/releases/{draft['id']}", json={"artifacts": swapped}, headers=editor).status_code == 200
    assert releases.post(f"/releases/{draft['id']}/finalize", headers=finalizer).status_code == 200
    ship(releases, developer, draft["id"], "dev")
    ship(releases, developer, draft["id"], "staging")
    case = {"release": draft, "deployment": deploy(releases, requester, draft["id"], "production").get_json()}

    by_editor = approve(releases, case, editor)
    by_finalizer = approve(releases, case, finalizer)

    assert (by_editor.status_code, by_editor.get_json()["code"]) == (403, "self_approval")
    assert (by_finalizer.status_code, by_finalizer.get_json()["code"]) == (403, "self_approval")
    assert deployment_of(releases, requester, draft["id"], case["deployment"]["id"])["approvals"] == []
    assert approve(releases, case, reviewer).get_json()["deployment"]["status"] == "queued"
