"""The releases function: promotion that moves by itself (shared/deployments/automation.py). A stage
with `auto_promote` has the scheduler's dispatch request what soaked in the stage before; with a
`train_schedule`, only at the train's times, read in its zone; a stage with `auto_rollback` has a
failure's rollback requested. Time passing is made by moving a deployment's end back in the
database, or, at the service, by the unit of work's clock (a train across a change of the clocks)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from shared.applications import trains
from shared.deployments import automation, rules
from shared.deployments.tables import deployments
from shared.events.tables import events
from shared.platform.db import get_engine
from tests.factories import audit_of, deploy, freeze_now, ready_release, register_application, report, ship, work_at
from tests.functions.test_locks import subscribed  # noqa: F401 - a fixture: events are stored

PATH = [
    {"environment": "dev"},
    {"environment": "staging", "soak_minutes": 30, "auto_promote": True},
    {"environment": "production", "required_approvals": 1, "auto_promote": True},
]


def dispatch(client, headers):
    answer = client.post("/releases/events/dispatch", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["promoted"]


def deployments_of(release_id, environment=None):
    with get_engine().connect() as conn:
        query = sa.select(deployments).where(deployments.c.release_id == uuid.UUID(release_id))
        if environment is not None:
            query = query.where(deployments.c.environment == environment)
        return conn.execute(query.order_by(deployments.c.created_at)).all()


def soaked(release_id, environment, minutes):
    """Make the release's success in `environment` `minutes` old."""
    with get_engine().begin() as conn:
        conn.execute(
            sa.update(deployments)
            .where(deployments.c.release_id == uuid.UUID(release_id), deployments.c.environment == environment)
            .values(finished_at=sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, minutes))
        )


@pytest.fixture
def checkout(releases, admin, developer):
    """checkout on dev → staging (soak 30 min, auto) → production (1 approval, auto); 1.0.0 live in dev."""
    register_application(releases, admin, "checkout", path=PATH)
    release = ready_release(releases, developer, application="checkout", version="1.0.0")
    ship(releases, developer, release["id"], "dev")
    return release


def test_a_release_live_in_dev_is_requested_in_staging_by_the_rule_once(releases, admin, developer, checkout):
    promoted = dispatch(releases, admin)
    again = dispatch(releases, admin)

    (row,) = deployments_of(checkout["id"], "staging")
    assert (promoted, again) == (1, 0)
    assert (row.status, row.requested_by_rule, row.kind) == ("queued", "auto_promote", "deploy")
    shown = releases.get(f"/releases/deployments/{row.id}", headers=developer).get_json()
    assert shown["requested_by_name"] == "auto-promotion"
    assert shown["requested_by_rule"] == "auto_promote"
    assert "1.0.0 succeeded in dev" in shown["reason"]
    (audited,) = [e for e in audit_of(releases, str(row.id)) if e["action"] == "deployment.requested"]
    assert audited["actor"] == "rule:auto_promote"


def test_it_waits_for_the_soak_then_asks_production_for_its_approval(releases, admin, developer, checkout, subscribed):  # noqa: F811
    dispatch(releases, admin)
    (staging,) = deployments_of(checkout["id"], "staging")
    for status in ("in_progress", "succeeded"):
        assert report(releases, developer, checkout["id"], str(staging.id), status).status_code == 200

    before_soak = dispatch(releases, admin)
    soaked(checkout["id"], "staging", 31)
    after_soak = dispatch(releases, admin)

    (production,) = deployments_of(checkout["id"], "production")
    assert (before_soak, after_soak) == (0, 1)
    assert production.status == "pending_approval"  # never past a stage's approvals without asking for them
    with get_engine().connect() as conn:
        sent = conn.execute(sa.select(events.c.type, events.c.body).where(events.c.environment == "production")).all()
    assert [e.type for e in sent] == ["deployment.requested", "deployment.pending_approval"]
    assert {e.body["data"]["deployment"]["id"] for e in sent} == {str(production.id)}
    assert sent[0].body["data"]["actor"] == "rule:auto_promote"


def test_a_failure_in_the_stage_before_since_its_success_holds_the_promotion(releases, admin, developer):
    register_application(releases, admin, "checkout", path=[PATH[0], {"environment": "staging"}, PATH[2]])
    good = ready_release(releases, developer, application="checkout", version="1.0.0")
    ship(releases, developer, good["id"], "dev")
    ship(releases, developer, good["id"], "staging")
    broken = ready_release(releases, developer, application="checkout", version="1.1.0")
    ship(releases, developer, broken["id"], "dev")
    attempt = deploy(releases, developer, broken["id"], "staging").get_json()
    report(releases, developer, broken["id"], attempt["id"], "in_progress")
    assert report(releases, developer, broken["id"], attempt["id"], "failed").status_code == 200

    assert dispatch(releases, admin) == 0
    assert deployments_of(good["id"], "production") == []


def test_a_person_who_deployed_it_first_leaves_the_rule_nothing_to_do(releases, admin, developer, checkout):
    mine = deploy(releases, developer, checkout["id"], "staging").get_json()
    report(releases, developer, checkout["id"], mine["id"], "in_progress")
    report(releases, developer, checkout["id"], mine["id"], "failed")

    assert dispatch(releases, admin) == 0  # it failed there: the rule never tries it again
    assert [r.requested_by_rule for r in deployments_of(checkout["id"], "staging")] == [None]


def test_a_freeze_holds_the_promotion_and_a_later_dispatch_requests_it(releases, admin, developer, checkout):
    frozen = freeze_now(releases, admin, "staging")

    held = dispatch(releases, admin)
    assert releases.delete(f"/releases/freezes/{frozen['id']}", headers=admin).status_code == 204
    after = dispatch(releases, admin)

    assert (held, after) == (0, 1)


def test_two_dispatchers_at_once_make_one_request(apps, admin, developer):
    """Each round, two dispatches start together (a barrier) on their own connections; every stage
    due is requested once in all."""
    client = apps["releases"].test_client()
    register_application(client, admin, "checkout", path=PATH)
    for round in range(4):
        release = ready_release(client, developer, application="checkout", version=f"1.{round}.0")
        ship(client, developer, release["id"], "dev")
        barrier = threading.Barrier(2)
        answers: list = []

        def run(barrier=barrier, answers=answers):
            own = apps["releases"].test_client()
            barrier.wait()
            answers.append(own.post("/releases/events/dispatch", headers=admin))

        threads = [threading.Thread(target=run) for _ in range(2)]
        [t.start() for t in threads]
        [t.join() for t in threads]

        assert [a.status_code for a in answers] == [200, 200]
        assert sorted(a.get_json()["promoted"] for a in answers) == [0, 1]
        (made,) = deployments_of(release["id"], "staging")
        for status in ("in_progress", "succeeded"):
            report(client, developer, release["id"], str(made.id), status)


def test_the_loser_of_a_race_waits_for_the_winner_then_finds_it_done(releases, admin, developer, checkout):
    """The interleaving made certain: the first dispatcher has requested it (not committed); the second
    blocks on the unique index until the first commits, then is refused in its savepoint and requests
    nothing, its run going on."""
    outcome = {}

    def second():
        with work_at(datetime.now(UTC)) as work:
            outcome["second"] = automation.promote_due(work)

    with work_at(datetime.now(UTC)) as first:
        outcome["first"] = automation.promote_due(first)
        racer = threading.Thread(target=second)
        racer.start()
        assert wait_for_a_lock_wait(), "the second dispatcher never waited for the first"
    racer.join(timeout=30)

    assert len(outcome["first"]) == 1 and outcome["second"] == []
    assert len(deployments_of(checkout["id"], "staging")) == 1


def wait_for_a_lock_wait(seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with get_engine().connect() as conn:
            waiting = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            )
        if waiting:
            return True
        time.sleep(0.05)
    return False


# -- release trains -----------------------------------------------------------------------------------

TRAIN = [
    {"environment": "dev"},
    {"environment": "staging"},
    {
        "environment": "production",
        "required_approvals": 1,
        "auto_promote": True,
        "train_schedule": "0 10 * * 1-5",
        "train_timezone": "Europe/Berlin",
    },
]


def shipped(releases, developer, version):
    release = ready_release(releases, developer, application="checkout", version=version)
    ship(releases, developer, release["id"], "dev")
    ship(releases, developer, release["id"], "staging")
    return release


def promote_at(now):
    with work_at(now) as work:
        return automation.promote_due(work)


def test_a_train_leaves_at_ten_in_berlin_before_and_after_the_clocks_change(releases, admin, developer):
    """Europe/Berlin moves its clocks on Sunday 28 March 2027: 10:00 is 09:00 UTC on the Friday before
    and 08:00 UTC on the Monday after."""
    register_application(releases, admin, "checkout", path=TRAIN)
    first = shipped(releases, developer, "1.0.0")

    assert promote_at(datetime(2027, 3, 26, 8, 59, tzinfo=UTC)) == []
    (friday,) = promote_at(datetime(2027, 3, 26, 9, 0, tzinfo=UTC))
    shown = releases.get(f"/releases/deployments/{friday}", headers=developer).get_json()
    assert (shown["version"], shown["requested_by_rule"], shown["status"]) == ("1.0.0", "train", "pending_approval")
    assert "0 10 * * 1-5 (Europe/Berlin) train of 2027-03-26 09:00 UTC" in shown["reason"]
    releases.post(
        f"/releases/{first['id']}/deployments/{friday}/approvals", json={"decision": "approve"}, headers=admin
    )
    report(releases, developer, first["id"], str(friday), "in_progress")
    report(releases, developer, first["id"], str(friday), "succeeded")
    second = shipped(releases, developer, "1.1.0")

    assert promote_at(datetime(2027, 3, 29, 7, 59, tzinfo=UTC)) == []  # 09:59 in Berlin, summer time
    (monday,) = promote_at(datetime(2027, 3, 29, 8, 0, tzinfo=UTC))
    assert deployments_of(second["id"], "production")[0].id == monday


def test_a_train_that_could_not_leave_within_its_boarding_time_waits_for_the_next(releases, admin, developer):
    register_application(releases, admin, "checkout", path=TRAIN)
    shipped(releases, developer, "1.0.0")

    assert promote_at(datetime(2027, 3, 26, 9, 15, tzinfo=UTC)) == []
    assert len(promote_at(datetime(2027, 3, 29, 8, 14, tzinfo=UTC))) == 1


def test_what_soaked_after_the_departure_waits_for_the_next_train(releases, admin, developer):
    register_application(releases, admin, "checkout", path=TRAIN)
    release = shipped(releases, developer, "1.0.0")
    leaves = trains.next_departure("0 10 * * 1-5", "Europe/Berlin", datetime.now(UTC))
    with get_engine().begin() as conn:
        conn.execute(
            sa.update(deployments)
            .where(deployments.c.release_id == uuid.UUID(release["id"]), deployments.c.environment == "staging")
            .values(finished_at=leaves + timedelta(minutes=1))
        )

    assert promote_at(leaves + timedelta(minutes=5)) == []


def test_a_train_due_now_is_requested_by_the_scheduler_over_http(releases, admin, developer):
    """The same train over the dispatch endpoint, at the wall clock's time: it departs this minute in
    New York (whatever its offset from UTC today)."""
    here = datetime.now(ZoneInfo("America/New_York"))
    path = [
        dict(TRAIN[0]),
        dict(TRAIN[1]),
        TRAIN[2] | {"train_schedule": f"{here.minute} {here.hour} * * *", "train_timezone": "America/New_York"},
    ]
    register_application(releases, admin, "checkout", path=path)
    release = shipped(releases, developer, "1.0.0")
    soaked(release["id"], "staging", 5)  # before this minute's departure: what soaks later waits

    assert dispatch(releases, admin) == 1
    (row,) = deployments_of(release["id"], "production")
    assert row.requested_by_rule == "train"


# -- the path's rules, as written --------------------------------------------------------------------


AUTO = {"auto_promote": True}


@pytest.mark.parametrize(
    ("path", "code", "says"),
    [
        (
            [{"environment": "dev"} | AUTO, {"environment": "production"}],
            "auto_promote_first_stage",
            "path.0.auto_promote",
        ),
        (
            [{"environment": "dev"}, {"environment": "production", "train_schedule": "0 10 * * *"}],
            None,
            "set auto_promote",
        ),
        (
            [{"environment": "dev"}, {"environment": "production", "train_schedule": "0 25 * * *"} | AUTO],
            None,
            "Bad hour",
        ),
        (
            [{"environment": "dev"}, {"environment": "production", "train_schedule": "0 10 * *"} | AUTO],
            None,
            "five fields",
        ),
        (
            [
                {"environment": "dev"},
                {"environment": "production", "train_schedule": "0 10 * * *", "train_timezone": "Mars/Base"} | AUTO,
            ],
            None,
            "Mars/Base",
        ),
        (
            [{"environment": "dev"}, {"environment": "production", "train_timezone": "UTC"} | AUTO],
            None,
            "give a train_schedule",
        ),
    ],
)
def test_a_stage_rule_that_cannot_work_is_refused_and_nothing_is_stored(releases, admin, path, code, says):
    body = {"name": "checkout", "display_name": "Checkout", "path": path}

    answer = releases.post("/releases/applications", json=body, headers=admin)

    assert answer.status_code == 422, answer.get_json()
    if code is not None:
        assert answer.get_json()["code"] == code
    assert says in str(answer.get_json())
    assert releases.get("/releases/applications/checkout", headers=admin).status_code == 404


def test_the_stage_shows_its_rules_and_a_train_defaults_to_utc(releases, admin):
    path = [
        {"environment": "staging", "auto_rollback": True},
        {"environment": "production", "auto_promote": True, "train_schedule": "30 9 * * 1"},
    ]

    made = register_application(releases, admin, "checkout", path=path)

    assert [
        {k: s[k] for k in ("auto_promote", "train_schedule", "train_timezone", "auto_rollback")} for s in made["path"]
    ] == [
        {"auto_promote": False, "train_schedule": None, "train_timezone": None, "auto_rollback": True},
        {"auto_promote": True, "train_schedule": "30 9 * * 1", "train_timezone": "UTC", "auto_rollback": False},
    ]


def test_the_promotion_query_names_the_statuses_that_hold_a_slot():
    """Its SQL is written out: it must say what `rules.ACTIVE` says."""
    assert f"a.status IN ({', '.join(repr(s) for s in rules.ACTIVE)})" in str(automation._CANDIDATES)
