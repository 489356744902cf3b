"""The releases function: a stage's `auto_rollback` (shared/deployments/automation.py
`roll_back_failure`). A deploy reported failed there has the rollback to what was live before it
requested with the report, by the rule; the pipeline still carries it out. A rollback the rule cannot
request is audited on the failed deployment, and the report stands."""

from __future__ import annotations

import pytest

from tests.factories import audit_of, deploy, ready_release, register_application, report, ship

PATH = [{"environment": "dev"}, {"environment": "production", "auto_rollback": True}]


def fail(releases, headers, release):
    attempt = deploy(releases, headers, release["id"], "production").get_json()
    assert report(releases, headers, release["id"], attempt["id"], "in_progress").status_code == 200
    answer = report(releases, headers, release["id"], attempt["id"], "failed", message="health checks failed")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "failed"
    return attempt


def release_of(releases, headers, version):
    release = ready_release(releases, headers, application="checkout", version=version)
    ship(releases, headers, release["id"], "dev")
    return release


@pytest.fixture
def live(releases, admin, developer):
    """checkout on dev → production (auto_rollback), with 1.0.0 live in production."""
    register_application(releases, admin, "checkout", path=PATH)
    good = release_of(releases, developer, "1.0.0")
    ship(releases, developer, good["id"], "production")
    return good


def test_a_failed_deploy_has_its_rollback_to_the_live_release_requested(releases, developer, live):
    broken = release_of(releases, developer, "1.1.0")

    failed = fail(releases, developer, broken)

    listed = releases.get(f"/releases/{live['id']}/deployments", headers=developer).get_json()["items"]
    (back,) = [d for d in listed if d["kind"] == "rollback"]
    assert (back["status"], back["environment"], back["version"]) == ("queued", "production", "1.0.0")
    assert (back["requested_by_rule"], back["requested_by_name"]) == ("auto_rollback", "auto-rollback")
    assert back["replaces_id"] == failed["id"]
    assert "1.1.0 failed in production" in back["reason"]
    (audited,) = [e for e in audit_of(releases, back["id"]) if e["action"] == "deployment.rollback_requested"]
    assert audited["actor"] == "rule:auto_rollback"


def test_the_rollback_succeeding_leaves_the_failure_failed_and_the_good_release_live(releases, developer, live):
    broken = release_of(releases, developer, "1.1.0")
    failed = fail(releases, developer, broken)
    listed = releases.get(f"/releases/{live['id']}/deployments", headers=developer).get_json()["items"]
    (back,) = [d for d in listed if d["kind"] == "rollback"]

    for status in ("in_progress", "succeeded"):
        assert report(releases, developer, live["id"], back["id"], status).status_code == 200

    shown = releases.get(f"/releases/deployments/{failed['id']}", headers=developer).get_json()
    matrix = releases.get("/releases/matrix", headers=developer).get_json()["items"]
    assert shown["status"] == "failed"
    (row,) = [r for r in matrix if r["application"] == "checkout"]
    assert row["cells"]["production"]["live"]["version"] == "1.0.0"


def test_with_nothing_good_before_it_the_refusal_is_audited_and_the_report_stands(releases, admin, developer):
    register_application(releases, admin, "checkout", path=PATH)
    first = release_of(releases, developer, "1.0.0")

    failed = fail(releases, developer, first)

    (refused,) = [e for e in audit_of(releases, failed["id"]) if e["action"] == "deployment.auto_rollback_refused"]
    assert refused["actor"] == "rule:auto_rollback"
    assert refused["data"]["code"] == "no_rollback_target"
    assert releases.get(f"/releases/deployments/{failed['id']}", headers=developer).get_json()["status"] == "failed"


def test_a_lock_refuses_the_automatic_rollback_as_it_would_a_persons(releases, admin, developer, live):
    broken = release_of(releases, developer, "1.1.0")
    attempt = deploy(releases, developer, broken["id"], "production").get_json()
    report(releases, developer, broken["id"], attempt["id"], "in_progress")
    locked = releases.post(
        "/releases/locks", json={"environment": "production", "reason": "INC-9: hands off"}, headers=admin
    )
    assert locked.status_code == 201, locked.get_json()

    assert report(releases, developer, broken["id"], attempt["id"], "failed").status_code == 200

    (refused,) = [e for e in audit_of(releases, attempt["id"]) if e["action"] == "deployment.auto_rollback_refused"]
    assert refused["data"]["code"] == "environment_locked"
    listed = releases.get(f"/releases/{live['id']}/deployments", headers=developer).get_json()["items"]
    assert [d["kind"] for d in listed if d["environment"] == "production"] == ["deploy"]


def test_without_the_rule_a_failure_requests_nothing(releases, admin, developer):
    register_application(releases, admin, "checkout", path=[{"environment": "dev"}, {"environment": "production"}])
    good = release_of(releases, developer, "1.0.0")
    ship(releases, developer, good["id"], "production")
    broken = release_of(releases, developer, "1.1.0")

    fail(releases, developer, broken)

    listed = releases.get(f"/releases/{good['id']}/deployments", headers=developer).get_json()["items"]
    assert [d["kind"] for d in listed if d["environment"] == "production"] == ["deploy"]
