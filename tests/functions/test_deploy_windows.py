"""Deploy windows (an environment policy): work starts there only inside weekly windows in a time zone.
Outside them a request is refused, or, where the policy says `wait`, accepted with its start held
until a window opens. The instants are the unit of work's (`work_at`), not the wall clock's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.deployments import gates
from shared.deployments import service as deployments
from shared.deployments.schemas import DeploymentIn, StatusIn
from shared.errors import Conflict
from tests.factories import as_principal, make_user, ready_release, work_at

# 2026-12-08 is a Tuesday; Berlin is UTC+1 in December.
TUESDAY_0959 = datetime(2026, 12, 8, 8, 59, tzinfo=UTC)
TUESDAY_1000 = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
FRIDAY_NOON = datetime(2026, 12, 11, 11, 0, tzinfo=UTC)
WINDOWS = {
    "deploy_windows": [{"day": d, "start": "10:00", "end": "16:00"} for d in ("tue", "wed", "thu")],
    "windows_timezone": "Europe/Berlin",
}


def windows_on_dev(releases, admin, **extra):
    answer = releases.put("/releases/environments/dev/policy", json=WINDOWS | extra, headers=admin)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_outside_its_windows_a_request_is_refused_on_the_minute(releases, admin, developer):
    policy = windows_on_dev(releases, admin)
    release = ready_release(releases, developer)

    def dev_at(now):
        with work_at(now) as work:
            return gates.preflight(work, release_id=uuid.UUID(release["id"]), environment="dev")

    early, opened, friday = dev_at(TUESDAY_0959), dev_at(TUESDAY_1000), dev_at(FRIDAY_NOON)

    assert policy["deploy_windows"][0] == {"day": "tue", "start": "10:00", "end": "16:00"}
    assert policy["outside_window"] == "refuse"
    assert [b["code"] for b in early["blocking"]] == ["outside_deploy_window"]
    assert "tue 10:00-16:00" in early["blocking"][0]["detail"] and "Europe/Berlin" in early["blocking"][0]["detail"]
    assert opened["allowed"] is True
    assert [b["code"] for b in friday["blocking"]] == ["outside_deploy_window"]


def test_where_the_policy_says_wait_a_request_is_taken_and_starts_in_the_next_window(releases, admin, developer):
    windows_on_dev(releases, admin, outside_window="wait")
    release = ready_release(releases, developer)
    caller = as_principal(make_user("developer"))
    release_id = uuid.UUID(release["id"])

    with work_at(FRIDAY_NOON) as work:
        made = deployments.request_deployment(
            work, release_id=release_id, caller=caller, request=DeploymentIn(environment="dev")
        )
    ids = {"release_id": release_id, "deployment_id": made["id"]}
    with pytest.raises(Conflict) as held, work_at(FRIDAY_NOON) as work:
        deployments.report_status(work, **ids, caller=caller, report=StatusIn(status="in_progress"))
    with work_at(TUESDAY_1000) as work:
        started = deployments.report_status(work, **ids, caller=caller, report=StatusIn(status="in_progress"))

    assert made["status"] == "queued"
    assert held.value.code == "outside_deploy_window"
    assert started["status"] == "in_progress"


def test_a_policy_with_windows_needs_a_known_zone(releases, admin):
    no_zone = releases.put(
        "/releases/environments/dev/policy", json={"deploy_windows": WINDOWS["deploy_windows"]}, headers=admin
    )
    unknown = releases.put(
        "/releases/environments/dev/policy", json=WINDOWS | {"windows_timezone": "Mars/Olympus"}, headers=admin
    )
    bad_mode = releases.put(
        "/releases/environments/dev/policy", json=WINDOWS | {"outside_window": "hope"}, headers=admin
    )

    assert no_zone.status_code == unknown.status_code == bad_mode.status_code == 422
    assert releases.get("/releases/environments/dev/policy", headers=admin).get_json()["deploy_windows"] is None
