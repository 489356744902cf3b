"""The releases function: the gates a deployment passes when requested, approved and started
(shared/deployments/gates.py and rules.py)."""

import threading
from datetime import UTC, datetime, timedelta

from tests.factories import approve, audit_of, cancel, deploy, deployment_of, freeze_now, ready_release, report, ship

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


def test_soak_time_holds_a_promotion(releases, developer, admin):
    """Until the minute it ends: tests/integration/test_deployment_services.py, at the times it names."""
    releases.put("/releases/environments/dev", json={"position": 1, "soak_minutes": 60}, headers=admin)
    release = ready_release(releases, developer)
    ship(releases, developer, release["id"], "dev")

    early = deploy(releases, developer, release["id"], "staging")

    assert early.status_code == 409
    assert early.get_json()["code"] == "soak_time_pending"


def test_one_deployment_at_a_time_per_application_and_environment(releases, developer):
    first, second = (
        ready_release(releases, developer, version="1.0.0"),
        ready_release(releases, developer, version="1.1.0"),
    )
    under_way = deploy(releases, developer, first["id"], "dev").get_json()

    response = deploy(releases, developer, second["id"], "dev")

    assert response.status_code == 409
    assert response.get_json()["code"] == "deployment_in_progress"
    # The refusal names the deployment that holds the slot, so it can be found, decided or cancelled.
    (gate,) = response.get_json()["errors"]
    assert gate["deployment_id"] == under_way["id"] and gate["release_id"] == first["id"]
    assert f"1.0.0, queued (deployment {under_way['id']})" in gate["message"]
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
        "required_approvals": 1,
        "approver_teams": [],
        "approval_rules": [{"count": 1, "team": None, "role": None}],
        "policy": None,
        "blocking": [{"code": "promotion_required", "detail": response.get_json()["blocking"][0]["detail"]}],
        # What deploying it there changes: nothing is live in production, so this release alone.
        "changes": {
            "base_version": None,
            "direction": "forward",
            "count": 1,
            "releases": [{"version": "1.0.0", "title": "1.0.0"}],
            "commit_range": None,
            "compare_url": None,
        },
    }
    assert ok.get_json() == {
        "allowed": True,
        "needs_approval": False,
        "required_approvals": 0,
        "approver_teams": [],
        "approval_rules": [],
        "policy": None,
        "blocking": [],
        "changes": response.get_json()["changes"],  # as above: the same release against nothing live
    }
    assert releases.get(f"/releases/{release['id']}/deployments", headers=developer).get_json()["items"] == []


def test_ten_racing_deployments_give_exactly_one_201(apps, developer):
    client = apps["releases"].test_client()
    release = ready_release(client, developer)
    statuses: list[int] = []
    refusals: list[dict] = []
    barrier = threading.Barrier(10)

    def request():
        own = apps["releases"].test_client()
        barrier.wait()
        answer = deploy(own, developer, release["id"], "dev")
        statuses.append(answer.status_code)
        if answer.status_code == 409:
            refusals.append(answer.get_json())

    threads = [threading.Thread(target=request) for _ in range(10)]
    [t.start() for t in threads]
    [t.join() for t in threads]

    assert sorted(statuses) == [201] + [409] * 9
    # Whether a loser lost at the gate or at the unique index, its refusal names the winner.
    (winner,) = client.get(f"/releases/{release['id']}/deployments", headers=developer).get_json()["items"]
    for answer in refusals:
        assert answer["errors"][0]["deployment_id"] == winner["id"], answer


def test_a_cancelled_release_is_never_deployable_again(releases, developer):
    release = ready_release(releases, developer)
    releases.post(f"/releases/{release['id']}/cancel", json={"reason": "bad"}, headers=developer)

    assert deploy(releases, developer, release["id"], "dev").get_json()["code"] == "release_not_ready"


# -- gates hold at every step ---------------------------------------------------------------------


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
