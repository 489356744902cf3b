"""The releases function: requesting a deployment and reporting its status (shared/deployments/service.py)."""

from tests.factories import as_role, deploy, ready_release, report, ship

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


def test_a_deployment_is_read_by_its_id_alone_with_its_etag(releases, developer, viewer):
    release = ready_release(releases, developer)
    made = deploy(releases, developer, release["id"], "dev")
    path = f"/releases/deployments/{made.get_json()['id']}"

    flat = releases.get(path, headers=viewer)
    unchanged = releases.get(path, headers={**viewer, "If-None-Match": flat.headers["ETag"]})
    under_release = releases.get(f"/releases/{release['id']}/deployments/{made.get_json()['id']}", headers=viewer)
    missing = releases.get("/releases/deployments/00000000-0000-4000-8000-000000000000", headers=viewer)

    assert flat.status_code == 200 and flat.get_json() == under_release.get_json()
    assert flat.headers["ETag"] == under_release.headers["ETag"]
    assert unchanged.status_code == 304
    assert missing.status_code == 404 and missing.get_json()["code"] == "deployment_not_found"
