"""The deployment services called directly, on a unit of work the test builds (`work_at`): the real
PostgreSQL connection, a cache stand-in that records what the work invalidates, and the time the test
gives. So the gates that depend on the clock are tested at the instant that matters, without patching
the clock, and a decision's effects are read off the unit of work itself. The data is set up over
HTTP, as a pipeline would; the act under test is the service call."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.deployments import approvals, gates
from shared.deployments import service as deployments
from shared.deployments.schemas import ApprovalIn
from shared.errors import Conflict
from shared.platform.namespaces import RELEASE_LISTS_NAMESPACE, release_namespace
from tests.factories import (
    RecordingCache,
    as_principal,
    as_role,
    deploy,
    make_user,
    ready_release,
    report,
    ship,
    work_at,
)

# -- gate facts: the clock is the unit of work's ----------------------------------------------------


def test_soak_holds_a_promotion_until_the_minute_it_ends(releases, developer, admin):
    releases.put("/releases/environments/dev", json={"position": 1, "soak_minutes": 60}, headers=admin)
    release = ready_release(releases, developer)
    live_since = datetime.fromisoformat(ship(releases, developer, release["id"], "dev")["finished_at"])

    def staging_at(now):
        with work_at(now) as work:
            return gates.preflight(work, release_id=uuid.UUID(release["id"]), environment="staging")

    early, due = staging_at(live_since + timedelta(minutes=59)), staging_at(live_since + timedelta(minutes=60))

    assert [b["code"] for b in early["blocking"]] == ["soak_time_pending"]
    assert early["allowed"] is False
    assert due["allowed"] is True and due["blocking"] == []


def test_a_weekly_freeze_blocks_on_its_day_in_its_zone(releases, developer, manager):
    frozen = releases.post(
        "/releases/freezes",
        json={
            "weekly": [{"day": "fri", "start": "16:00", "end": "23:59"}],
            "timezone": "Europe/Berlin",
            "reason": "No Friday deploys",
        },
        headers=manager,
    )
    assert frozen.status_code == 201, frozen.get_json()
    release = ready_release(releases, developer)

    def dev_at(now):
        with work_at(now) as work:
            return gates.preflight(work, release_id=uuid.UUID(release["id"]), environment="dev")

    before = dev_at(datetime(2026, 11, 27, 14, 59, tzinfo=UTC))  # Friday 15:59 in Berlin
    during = dev_at(datetime(2026, 11, 27, 15, 0, tzinfo=UTC))  # Friday 16:00 in Berlin
    thursday = dev_at(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))

    assert before["allowed"] is True and thursday["allowed"] is True
    assert [b["code"] for b in during["blocking"]] == ["environment_frozen"]
    assert "No Friday deploys" in during["blocking"][0]["detail"]


# -- decisions ----------------------------------------------------------------------------------------


@pytest.fixture
def two_approvals_needed(releases, admin):
    """A release waiting in production, where two approvals are needed; its two release managers."""
    releases.put("/releases/environments/production", json={"position": 3, "required_approvals": 2}, headers=admin)
    _, author = as_role("developer")
    release = ready_release(releases, author)
    ship(releases, author, release["id"], "dev")
    ship(releases, author, release["id"], "staging")
    requested = deploy(releases, author, release["id"], "production").get_json()
    assert requested["status"] == "pending_approval"
    ids = {"release_id": uuid.UUID(release["id"]), "deployment_id": uuid.UUID(requested["id"])}
    return ids, make_user("release_manager"), make_user("release_manager")


def decide(ids, approver, decision="approve", *, cache=None, now=None):
    with work_at(now or datetime.now(UTC), cache) as work:
        return approvals.decide(
            work, **ids, caller=as_principal(approver), approval=ApprovalIn(decision=decision, comment="ok")
        )


def test_the_second_approval_of_two_queues_the_deployment_and_each_invalidates_after_commit(two_approvals_needed):
    ids, first, second = two_approvals_needed
    cache = RecordingCache()

    with work_at(datetime.now(UTC), cache) as work:
        one = approvals.decide(
            work, **ids, caller=as_principal(first), approval=ApprovalIn(decision="approve", comment="ok")
        )
        invalidated_before_commit = list(cache.invalidated)
    two = decide(ids, second)

    assert one["deployment"]["status"] == "pending_approval"
    assert two["deployment"]["status"] == "queued"
    assert [str(a["user_id"]) for a in two["deployment"]["approvals"]] == [str(first["id"]), str(second["id"])]
    assert invalidated_before_commit == []  # a reader must not refill the cache from the uncommitted state
    assert cache.invalidated == [release_namespace(ids["release_id"]), RELEASE_LISTS_NAMESPACE]


def test_a_rejection_ends_the_request_whatever_approvals_came_before(two_approvals_needed):
    ids, first, second = two_approvals_needed

    decide(ids, first)
    rejected = decide(ids, second, "reject")

    assert rejected["decision"] == "reject"
    assert rejected["deployment"]["status"] == "rejected"


def test_a_refused_decision_leaves_nothing_behind(two_approvals_needed, releases):
    ids, first, _ = two_approvals_needed
    decide(ids, first)
    cache = RecordingCache()

    with pytest.raises(Conflict, match="already decided"):  # one person, one decision
        decide(ids, first, cache=cache)

    with work_at(datetime.now(UTC)) as work:
        found = deployments.read_deployment(work, **ids)
    assert len(found["approvals"]) == 1 and found["status"] == "pending_approval"
    assert cache.invalidated == []


# -- the end of a release's deployments ------------------------------------------------------------------


def test_cancelling_a_release_ends_what_has_not_started_and_names_what_is_running(releases, developer, admin):
    release = ready_release(releases, developer)
    ship(releases, developer, release["id"], "dev")
    ship(releases, developer, release["id"], "staging")
    waiting = deploy(releases, developer, release["id"], "production").get_json()  # pending_approval
    other = ready_release(releases, developer, version="2.0.0")
    running = deploy(releases, developer, other["id"], "dev").get_json()
    assert report(releases, developer, other["id"], running["id"], "in_progress").status_code == 200
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)

    with work_at(at) as work:
        first = deployments.end_with_release(work, release_id=uuid.UUID(release["id"]), actor="ops", reason="Bad data")
        second = deployments.end_with_release(work, release_id=uuid.UUID(other["id"]), actor="ops", reason=None)
        ended = deployments.read_deployment(
            work, release_id=uuid.UUID(release["id"]), deployment_id=uuid.UUID(waiting["id"])
        )

    assert first == {"deployments_cancelled": [waiting["id"]], "deployments_left_running": []}
    assert second == {"deployments_cancelled": [], "deployments_left_running": [running["id"]]}
    assert ended["status"] == "cancelled"
    assert ended["finished_at"] == at  # the unit of work's time, not the wall clock's
    assert ended["message"] == "The release was cancelled: Bad data"
