"""The releases function: the hotfix lane, skipping a stage by the role it names, with a reason
(shared/applications/rules.py `skip_refusals`, shared/deployments/service.py `require_skip`)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shared.events.tables import events
from shared.platform.db import get_engine
from tests.factories import approve, as_role, audit_of, deploy, ready_release, register_application, report, ship
from tests.functions.test_locks import subscribed  # noqa: F401 - a fixture: events are stored

PATH = [
    {"environment": "dev"},
    {"environment": "staging", "soak_minutes": 60, "skippable_by": "admin"},
    {"environment": "production", "required_approvals": 1},
]
HOTFIX = {"skip_stages": ["staging"], "reason": "SEV-1: checkout is down, INC-4411"}


@pytest.fixture
def hotfix(releases, admin, developer):
    """checkout 1.0.1, live in dev only, whose staging stage admins may skip."""
    register_application(releases, admin, "checkout", path=PATH)
    release = ready_release(releases, developer, application="checkout", version="1.0.1")
    ship(releases, developer, release["id"], "dev")
    return release


def event_types():
    with get_engine().connect() as conn:
        return list(conn.scalars(sa.select(events.c.type).order_by(events.c.seq)))


def test_an_admin_skips_a_stage_with_a_reason_audited_and_evented(releases, admin, hotfix, subscribed):  # noqa: F811
    answer = deploy(releases, admin, hotfix["id"], "production", **HOTFIX)

    assert answer.status_code == 201, answer.get_json()
    deployment = answer.get_json()
    assert deployment["skipped_stages"] == ["staging"]
    assert deployment["status"] == "pending_approval"  # the lane skips a stage, not the approvals
    (audited,) = [e for e in audit_of(releases, deployment["id"]) if e["action"] == "deployment.requested"]
    assert audited["data"]["skipped_stages"] == ["staging"]
    assert audited["data"]["reason"] == HOTFIX["reason"]
    assert event_types() == ["deployment.requested", "deployment.pending_approval", "deployment.stage_skipped"]


def test_without_the_lane_the_same_request_waits_for_staging(releases, admin, hotfix):
    answer = deploy(releases, admin, hotfix["id"], "production")

    assert (answer.status_code, answer.get_json()["code"]) == (409, "promotion_required")
    assert "staging" in answer.get_json()["detail"]


def test_a_role_below_the_stages_skippable_by_is_refused_and_nothing_is_written(releases, hotfix):
    _, manager = as_role("release_manager")

    answer = deploy(releases, manager, hotfix["id"], "production", **HOTFIX)

    assert (answer.status_code, answer.get_json()["code"]) == (403, "skip_forbidden")
    assert "admin" in answer.get_json()["detail"]
    assert (
        releases.get(f"/releases/{hotfix['id']}/deployments?limit=10", headers=manager).get_json()["items"][0][
            "environment"
        ]
        == "dev"
    )


def test_skipping_needs_a_reason(releases, admin, hotfix):
    answer = deploy(releases, admin, hotfix["id"], "production", skip_stages=["staging"])

    assert answer.status_code == 422
    assert "reason" in answer.get_json()["detail"]


@pytest.mark.parametrize(
    ("skip", "why"),
    [
        (["dev", "staging"], "dev's stage does not let anyone skip it"),
        (["qa"], "qa is not a stage before production"),
        (["production"], "production is not a stage before production"),
    ],
)
def test_a_stage_that_may_not_be_skipped_is_refused_naming_it(releases, admin, hotfix, skip, why):
    answer = deploy(releases, admin, hotfix["id"], "production", skip_stages=skip, reason="SEV-1")

    assert (answer.status_code, answer.get_json()["code"]) == (422, "skip_not_allowed")
    assert why in answer.get_json()["detail"]


def test_an_environment_policy_that_forbids_skipping_holds_over_the_stage(releases, admin, hotfix):
    put = releases.put("/releases/environments/staging/policy", json={"skippable": False}, headers=admin)

    answer = deploy(releases, admin, hotfix["id"], "production", **HOTFIX)

    assert put.status_code == 200
    assert (answer.status_code, answer.get_json()["code"]) == (422, "skip_not_allowed")
    assert "staging's environment policy says no path skips it" in answer.get_json()["detail"]


def test_promotion_and_soak_look_at_the_nearest_stage_not_skipped(releases, admin, developer):
    register_application(releases, admin, "checkout", path=PATH)
    release = ready_release(releases, developer, application="checkout", version="1.0.1")

    nowhere = releases.post(
        f"/releases/{release['id']}/deployments/preflight",
        json={"environment": "production", **{"skip_stages": ["staging"]}},
        headers=developer,
    ).get_json()
    ship(releases, developer, release["id"], "dev")
    from_dev = releases.post(
        f"/releases/{release['id']}/deployments/preflight",
        json={"environment": "production", "skip_stages": ["staging"]},
        headers=developer,
    ).get_json()

    assert [b["code"] for b in nowhere["blocking"]] == ["promotion_required"]
    assert "dev" in nowhere["blocking"][0]["detail"]
    assert from_dev["allowed"] is True  # staging's 60 minutes of soak are skipped with it


def test_a_shipped_hotfix_counts_as_a_stage_skip_in_the_metrics(releases, admin, hotfix):
    deployment = deploy(releases, admin, hotfix["id"], "production", **HOTFIX).get_json()
    approve(releases, {"release": hotfix, "deployment": deployment}, as_role("release_manager")[1])
    report(releases, admin, hotfix["id"], deployment["id"], "in_progress")
    report(releases, admin, hotfix["id"], deployment["id"], "succeeded")

    metrics = releases.get("/releases/metrics?environment=production&application=checkout", headers=admin).get_json()

    assert metrics["stage_skips"] == {"rate": 1.0, "skips": 1, "deployments": 1}
