"""The releases function: request expiry (shared/deployments/expiry.py). A deployment left
`pending_approval` or `queued` longer than its environment's `expire_after_hours` ends as `expired`
and frees the slot. Time passing is made by moving the deployment's last move back in the database
(what 25 idle hours would leave), or, at the service, by the unit of work's clock."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from shared.audit.tables import audit_events
from shared.deployments import approvals, expiry
from shared.deployments.schemas import ApprovalIn
from shared.deployments.tables import deployments
from shared.platform.db import get_engine
from tests.factories import (
    approve,
    as_principal,
    as_role,
    deploy,
    deployment_of,
    make_user,
    ready_release,
    report,
    ship,
    work_at,
)


def idle(deployment_id, hours):
    """Make the deployment's last move `hours` ago."""
    with get_engine().begin() as conn:
        conn.execute(
            sa.update(deployments)
            .where(deployments.c.id == uuid.UUID(deployment_id))
            .values(updated_at=sa.func.now() - sa.func.make_interval(0, 0, 0, 0, hours))
        )


def expiries(deployment_id):
    with get_engine().connect() as conn:
        return conn.scalar(
            sa.select(sa.func.count())
            .select_from(audit_events)
            .where(audit_events.c.action == "deployment.expired", audit_events.c.entity_id == deployment_id)
        )


def test_a_forgotten_request_expires_and_a_new_one_takes_the_slot(releases, awaiting_approval):
    case = awaiting_approval
    idle(case["deployment"]["id"], 25)
    newer = ready_release(releases, case["author"], version="1.1.0")
    ship(releases, case["author"], newer["id"], "dev")
    ship(releases, case["author"], newer["id"], "staging")

    checked = releases.post(
        f"/releases/{newer['id']}/deployments/preflight", json={"environment": "production"}, headers=case["author"]
    ).get_json()
    requested = deploy(releases, case["author"], newer["id"], "production")
    forgotten = deployment_of(releases, case["author"], case["release"]["id"], case["deployment"]["id"])

    assert checked["allowed"] is True  # preflight already does not count it
    assert requested.status_code == 201 and requested.get_json()["status"] == "pending_approval"
    assert forgotten["status"] == "expired" and forgotten["finished_at"]
    assert "24 hours" in forgotten["message"]
    assert expiries(case["deployment"]["id"]) == 1


def test_a_request_refused_by_another_gate_leaves_the_forgotten_one_as_it_was(releases, awaiting_approval):
    case = awaiting_approval
    idle(case["deployment"]["id"], 25)
    draft = releases.post(
        "/releases", json={"application": "shop", "version": "2.0.0", "title": "x"}, headers=case["author"]
    ).get_json()

    refused = deploy(releases, case["author"], draft["id"], "production")

    assert refused.status_code == 409
    assert "deployment_in_progress" not in [e["code"] for e in refused.get_json()["errors"]]  # it no longer counts
    assert deployment_of(releases, case["author"], case["release"]["id"], case["deployment"]["id"])["status"] == (
        "pending_approval"  # a failed request writes nothing, not even the expiry
    )


def test_the_dispatch_expires_every_stale_request_and_only_those(releases, developer, admin):
    stale = ready_release(releases, developer, application="cart")
    fresh = ready_release(releases, developer, application="shop")
    old = deploy(releases, developer, stale["id"], "dev").get_json()  # queued: the pipeline never started it
    new = deploy(releases, developer, fresh["id"], "dev").get_json()
    idle(old["id"], 25)

    answer = releases.post("/releases/events/dispatch", headers=admin)

    assert answer.status_code == 200 and answer.get_json()["expired"] == 1
    assert deployment_of(releases, developer, stale["id"], old["id"])["status"] == "expired"
    assert deployment_of(releases, developer, fresh["id"], new["id"])["status"] == "queued"


def test_deciding_on_or_starting_a_stale_deployment_is_409_and_records_the_expiry(releases, awaiting_approval):
    case = awaiting_approval
    _, approver = as_role("release_manager")
    idle(case["deployment"]["id"], 25)

    decided = approve(releases, case, approver)
    again = approve(releases, case, approver)

    assert decided.status_code == 409 and decided.get_json()["code"] == "deployment_expired"
    assert again.status_code == 409 and again.get_json()["code"] == "not_pending_approval"
    found = deployment_of(releases, case["author"], case["release"]["id"], case["deployment"]["id"])
    assert found["status"] == "expired" and found["approvals"] == []


def test_a_queued_deployment_the_pipeline_never_started_cannot_start_a_day_later(releases, developer):
    release = ready_release(releases, developer)
    queued = deploy(releases, developer, release["id"], "dev").get_json()
    idle(queued["id"], 25)

    started = report(releases, developer, release["id"], queued["id"], "in_progress")

    assert started.status_code == 409 and started.get_json()["code"] == "deployment_expired"


def test_an_environment_sets_its_own_expiry_and_a_decision_restarts_it(releases, admin, awaiting_approval):
    case = awaiting_approval
    policy = releases.put("/releases/environments/production/policy", json={"expire_after_hours": 48}, headers=admin)
    requested_at = datetime.fromisoformat(case["deployment"]["created_at"])
    ids = {"release_id": uuid.UUID(case["release"]["id"]), "deployment_id": uuid.UUID(case["deployment"]["id"])}

    def sweep_at(now):
        with work_at(now) as work:
            return expiry.expire_stale(work, environment="production")

    releases.put("/releases/environments/production", json={"position": 3, "required_approvals": 2}, headers=admin)
    with work_at(requested_at + timedelta(hours=40)) as work:  # one approval of two, at hour 40
        approvals.decide(
            work, **ids, caller=as_principal(make_user("release_manager")), approval=ApprovalIn(decision="approve")
        )

    assert policy.status_code == 200 and policy.get_json()["expire_after_hours"] == 48
    assert sweep_at(requested_at + timedelta(hours=47)) == []
    assert sweep_at(requested_at + timedelta(hours=40 + 47)) == []  # the decision moved it
    assert sweep_at(requested_at + timedelta(hours=40 + 48)) == [ids["deployment_id"]]


def test_an_expiry_racing_an_approval_ends_one_way_only(apps, admin):
    """The sweep skips a row a decision holds; a decision waits for a sweep that holds it. Either the
    decision sees it stale and records the expiry, or it finds it expired: one expiry, no approval."""
    client = apps["releases"].test_client()
    for round in range(5):
        _, author = as_role("developer")
        _, approver = as_role("release_manager")
        release = ready_release(client, author, application=f"race{round}")
        ship(client, author, release["id"], "dev")
        ship(client, author, release["id"], "staging")
        waiting = deploy(client, author, release["id"], "production").get_json()
        idle(waiting["id"], 25)
        barrier = threading.Barrier(2)
        answers = {}

        def decide(release_id, deployment_id, approver, barrier, answers):
            own = apps["releases"].test_client()
            barrier.wait()
            answers["decide"] = own.post(
                f"/releases/{release_id}/deployments/{deployment_id}/approvals",
                json={"decision": "approve"},
                headers=approver,
            )

        def sweep(barrier, answers):
            own = apps["releases"].test_client()
            barrier.wait()
            answers["sweep"] = own.post("/releases/events/dispatch", headers=admin)

        threads = [
            threading.Thread(target=decide, args=(release["id"], waiting["id"], approver, barrier, answers)),
            threading.Thread(target=sweep, args=(barrier, answers)),
        ]
        [t.start() for t in threads]
        [t.join() for t in threads]

        assert answers["decide"].status_code == 409
        assert answers["decide"].get_json()["code"] in ("deployment_expired", "not_pending_approval")
        assert answers["sweep"].status_code == 200
        found = deployment_of(client, author, release["id"], waiting["id"])
        assert found["status"] == "expired" and found["approvals"] == []
        assert expiries(waiting["id"]) == 1
