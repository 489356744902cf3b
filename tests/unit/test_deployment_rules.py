"""Deployment rules without a database: status moves, freeze windows (across DST), gates, rollback."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.deployments import approval_rules, holds, rules
from shared.errors import Conflict, Forbidden

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


# -- status moves ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "requested"),
    [
        ("queued", "in_progress"),
        ("in_progress", "succeeded"),
        ("in_progress", "failed"),
        ("queued", "cancelled"),
        ("in_progress", "cancelled"),
        ("pending_approval", "cancelled"),
    ],
)
def test_forward_moves_are_allowed(current, requested):
    assert rules.next_status(current, requested) == requested


@pytest.mark.parametrize(
    ("current", "requested"),
    [
        ("in_progress", "queued"),
        ("succeeded", "failed"),
        ("failed", "succeeded"),
        ("succeeded", "cancelled"),
        ("pending_approval", "in_progress"),
        ("queued", "succeeded"),
        ("rejected", "queued"),
    ],
)
def test_backward_or_skipping_moves_are_conflicts(current, requested):
    with pytest.raises(Conflict) as raised:
        rules.next_status(current, requested)
    assert raised.value.code == "invalid_transition"


# -- freeze windows -------------------------------------------------------------------------------


def one_off(start, end, environment=None):
    return holds.Freeze(environment=environment, starts_at=start, ends_at=end, reason="launch")


def weekly(day, start, end, zone="Europe/Berlin", environment=None):
    return holds.Freeze(
        environment=environment, weekly=({"day": day, "start": start, "end": end},), timezone=zone, reason="weekend"
    )


def test_a_one_off_window_covers_its_start_but_not_its_end():
    start = datetime(2026, 12, 24, 0, 0, tzinfo=UTC)
    freeze = one_off(start, start + timedelta(days=2))

    assert not freeze.covers(start - timedelta(microseconds=1))
    assert freeze.covers(start)
    assert freeze.covers(start + timedelta(days=2) - timedelta(microseconds=1))
    assert not freeze.covers(start + timedelta(days=2))


def test_a_freeze_without_environment_covers_all_and_one_with_covers_only_its_own():
    start = datetime(2026, 12, 24, tzinfo=UTC)
    everywhere, production = (
        one_off(start, start + timedelta(hours=1)),
        one_off(start, start + timedelta(hours=1), "production"),
    )

    assert holds.active_freezes([everywhere, production], "dev", start) == [everywhere]
    assert holds.active_freezes([everywhere, production], "production", start) == [everywhere, production]


def test_weekly_window_is_local_wall_clock_time():
    freeze = weekly("fri", "16:00", "23:59")
    # Friday 2026-11-27, 16:00 in Berlin is 15:00 UTC (CET, +01:00).
    assert not freeze.covers(datetime(2026, 11, 27, 14, 59, tzinfo=UTC))
    assert freeze.covers(datetime(2026, 11, 27, 15, 0, tzinfo=UTC))


def test_weekly_window_follows_berlin_summer_time():
    freeze = weekly("fri", "16:00", "23:59")
    # Friday 2026-07-03, 16:00 in Berlin is 14:00 UTC (CEST, +02:00).
    assert not freeze.covers(datetime(2026, 7, 3, 13, 59, tzinfo=UTC))
    assert freeze.covers(datetime(2026, 7, 3, 14, 0, tzinfo=UTC))


def test_weekly_window_across_the_berlin_spring_forward_night():
    # Saturday 22:00 to Sunday 06:00 local; clocks jump 02:00 -> 03:00 on Sunday 2026-03-29.
    freeze = weekly("sat", "22:00", "06:00")
    saturday_start = datetime(2026, 3, 28, 22, 0, tzinfo=BERLIN)
    sunday_end = datetime(2026, 3, 29, 6, 0, tzinfo=BERLIN)

    assert freeze.covers(saturday_start)
    assert freeze.covers(datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN))  # just after the jump
    assert freeze.covers(sunday_end - timedelta(minutes=1))
    assert not freeze.covers(sunday_end)
    # Eight wall-clock hours, but only seven real hours long that night.
    assert sunday_end.astimezone(UTC) - saturday_start.astimezone(UTC) == timedelta(hours=7)


def test_weekly_window_across_the_new_york_fall_back_night():
    # Sunday 2026-11-01: 02:00 EDT becomes 01:00 EST. A Sunday 00:30-01:30 window is 2 real hours.
    freeze = weekly("sun", "00:30", "01:30", zone="America/New_York")
    first_0100 = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)  # 01:00 EDT
    second_0100 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # 01:00 EST, an hour later

    assert first_0100.astimezone(NEW_YORK).hour == second_0100.astimezone(NEW_YORK).hour == 1
    assert freeze.covers(first_0100)
    assert freeze.covers(second_0100)
    assert not freeze.covers(datetime(2026, 11, 1, 6, 30, tzinfo=UTC))  # 01:30 EST


def test_weekly_window_in_new_york_moves_against_utc_with_dst():
    freeze = weekly("mon", "09:00", "10:00", zone="America/New_York")
    assert freeze.covers(datetime(2026, 7, 6, 13, 0, tzinfo=UTC))  # EDT, -04:00
    assert not freeze.covers(datetime(2026, 11, 30, 13, 0, tzinfo=UTC))  # EST: that is 08:00 local
    assert freeze.covers(datetime(2026, 11, 30, 14, 0, tzinfo=UTC))


def test_an_overnight_weekly_window_wraps_from_sunday_to_monday():
    freeze = weekly("sun", "22:00", "02:00", zone="UTC")

    assert freeze.covers(datetime(2026, 11, 29, 23, 0, tzinfo=UTC))  # Sunday
    assert freeze.covers(datetime(2026, 11, 30, 1, 59, tzinfo=UTC))  # Monday
    assert not freeze.covers(datetime(2026, 11, 30, 2, 0, tzinfo=UTC))


# -- gates ----------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def facts(**overrides):
    base = {
        "release_status": "ready",
        "environment": "staging",
        "required_approvals": 0,
        "previous_environment": "dev",
        "previous_soak_minutes": 0,
        "live_in_previous_since": NOW - timedelta(hours=1),
    }
    return rules.GateFacts(**(base | overrides))


def codes(found):
    return [b.code for b in found]


def test_all_gates_pass_for_a_ready_release_promoted_in_order():
    assert rules.blockers(facts(), NOW) == []


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"release_status": "draft"}, "release_not_ready"),
        ({"release_status": "cancelled"}, "release_not_ready"),
        ({"live_in_previous_since": None}, "promotion_required"),
        ({"previous_soak_minutes": 120}, "soak_time_pending"),
        ({"freezes": [one_off(NOW, NOW + timedelta(hours=1))]}, "environment_frozen"),
        ({"active_deployment": True}, "deployment_in_progress"),
    ],
)
def test_each_gate_alone(overrides, code):
    assert codes(rules.blockers(facts(**overrides), NOW)) == [code]


def test_several_failing_gates_are_all_reported_in_order():
    found = rules.blockers(
        facts(
            release_status="draft",
            live_in_previous_since=None,
            active_deployment=True,
            freezes=[one_off(NOW, NOW + timedelta(1))],
        ),
        NOW,
    )

    assert codes(found) == ["release_not_ready", "promotion_required", "environment_frozen", "deployment_in_progress"]


def test_soak_time_ends_exactly_when_the_minutes_are_up():
    soaking = facts(previous_soak_minutes=60, live_in_previous_since=NOW - timedelta(minutes=60))

    assert rules.blockers(soaking, NOW - timedelta(microseconds=1))[0].code == "soak_time_pending"
    assert rules.blockers(soaking, NOW) == []


def test_the_first_stage_has_no_promotion_gate():
    assert rules.blockers(facts(environment="dev", previous_environment=None, live_in_previous_since=None), NOW) == []


def test_an_admin_override_lifts_only_the_freeze_gate():
    frozen = facts(freezes=[one_off(NOW, NOW + timedelta(hours=1))], override_freeze=True, active_deployment=True)

    assert codes(rules.blockers(frozen, NOW)) == ["deployment_in_progress"]


# -- rollback target ------------------------------------------------------------------------------


def past(name, release, status="ready", hours_ago=0):
    return rules.PastDeployment(
        id=name, release_id=release, release_status=status, finished_at=NOW - timedelta(hours=hours_ago)
    )


def test_rollback_goes_to_the_release_before_the_live_one():
    live, target = rules.rollback_target(
        [past("d3", "r3"), past("d2", "r2", hours_ago=1), past("d1", "r1", hours_ago=2)]
    )

    assert (live.id, target.release_id) == ("d3", "r2")


def test_rollback_skips_cancelled_releases_and_the_live_release_itself():
    history = [
        past("d4", "r3"),
        past("d3", "r3", hours_ago=1),  # the same release deployed twice
        past("d2", "r2", "cancelled", hours_ago=2),  # marked bad
        past("d1", "r1", hours_ago=3),
    ]

    assert rules.rollback_target(history)[1].release_id == "r1"


def test_no_rollback_target_without_an_earlier_good_release():
    assert rules.rollback_target([]) is None
    assert rules.rollback_target([past("d1", "r1")]) is None
    assert rules.rollback_target([past("d2", "r2"), past("d1", "r1", "cancelled", hours_ago=1)]) is None


# -- gates at every step --------------------------------------------------------------------------


def move(**overrides):
    base = {"kind": "deploy", "release_status": "ready", "environment": "production"}
    return rules.MoveFacts(**(base | overrides))


@pytest.mark.parametrize(
    ("to_status", "starts"),
    [
        ("queued", True),
        ("in_progress", True),
        ("pending_approval", False),
        ("succeeded", False),
        ("failed", False),
        ("cancelled", False),
        ("rejected", False),
    ],
)
def test_only_the_moves_towards_running_re_check_the_gates(to_status, starts):
    assert rules.starts_work(to_status) is starts


def test_a_move_passes_for_a_ready_release_outside_a_freeze():
    assert rules.move_blockers(move(freezes=(one_off(NOW - timedelta(hours=2), NOW),)), NOW) == []


@pytest.mark.parametrize("status", ["cancelled", "draft"])
def test_a_release_that_is_no_longer_ready_blocks_every_move_even_a_rollback(status):
    assert codes(rules.move_blockers(move(release_status=status), NOW)) == ["release_not_ready"]
    assert codes(rules.move_blockers(move(release_status=status, kind="rollback"), NOW)) == ["release_not_ready"]


def test_a_freeze_that_opened_after_the_request_blocks_the_move():
    frozen = move(freezes=(one_off(NOW, NOW + timedelta(hours=1)),))

    assert codes(rules.move_blockers(frozen, NOW)) == ["environment_frozen"]


def test_a_freeze_of_another_environment_does_not_block_the_move():
    elsewhere = move(freezes=(one_off(NOW, NOW + timedelta(hours=1), environment="staging"),))

    assert rules.move_blockers(elsewhere, NOW) == []


def test_an_override_given_at_request_and_a_rollback_pass_a_freeze_but_not_a_cancelled_release():
    freeze = (holds.Freeze(environment=None, starts_at=NOW, ends_at=NOW + timedelta(hours=1), reason="x", id="f1"),)

    assert rules.move_blockers(move(freezes=freeze, overridden=frozenset({"f1"})), NOW) == []
    assert rules.move_blockers(move(freezes=freeze, kind="rollback"), NOW) == []
    assert codes(
        rules.move_blockers(move(freezes=freeze, overridden=frozenset({"f1"}), release_status="cancelled"), NOW)
    ) == ["release_not_ready"]


def test_an_override_holds_for_the_windows_it_overrode_not_for_one_that_began_later():
    overridden = holds.Freeze(environment=None, starts_at=NOW, ends_at=NOW + timedelta(hours=1), reason="a", id="f1")
    later = holds.Freeze(environment="production", starts_at=NOW, ends_at=NOW + timedelta(hours=1), reason="b", id="f2")

    blocking = rules.move_blockers(move(freezes=(overridden, later), overridden=frozenset({"f1"})), NOW)

    assert codes(blocking) == ["environment_frozen"] and "b" in blocking[0].detail and "a." not in blocking[0].detail


def test_the_organisations_freeze_needs_an_organisation_wide_admin_to_override_and_a_teams_its_admin():
    org = holds.Freeze(environment="production", application=None, reason="org")
    team = holds.Freeze(environment="production", application="checkout", reason="team")

    assert holds.override_scopes([org], "checkout") == {None}
    assert holds.override_scopes([team], "checkout") == {"checkout"}
    assert holds.override_scopes([org, team], "checkout") == {None, "checkout"}
    assert holds.override_scopes([], "checkout") == {"checkout"}


# -- four eyes ------------------------------------------------------------------------------------


def test_authors_are_whoever_created_edited_or_finalized_the_release():
    events = [
        ("creator", "release.created"),
        ("editor", "release.updated"),
        ("finalizer", "release.finalized"),
        ("canceller", "release.cancelled"),
        ("reader", "release.viewed"),
    ]

    assert approval_rules.release_authors("creator", events) == {"creator", "editor", "finalizer"}


@pytest.mark.parametrize("approver", ["creator", "editor", "finalizer", "requester"])
def test_no_author_and_not_the_requester_may_decide(approver):
    with pytest.raises(Forbidden) as raised:
        approval_rules.require_four_eyes(approver, authors={"creator", "editor", "finalizer"}, requested_by="requester")
    assert raised.value.code == "self_approval"


def test_a_fifth_person_may_decide():
    approval_rules.require_four_eyes("someone-else", authors={"creator", "editor"}, requested_by="requester")


# -- approvals --------------------------------------------------------------------------------------


def test_a_deployment_waits_for_approval_only_where_the_environment_asks_for_one():
    assert rules.initial_status(0) == "queued"
    assert rules.initial_status(2) == "pending_approval"


def test_one_rejection_rejects_whatever_the_approvals():
    after = approval_rules.status_after_decision(current="pending_approval", decision="reject", met=True)
    assert after == "rejected"


def test_a_deployment_is_queued_once_its_rules_are_met_and_waits_until_then():
    waiting = {"current": "pending_approval", "decision": "approve"}
    assert approval_rules.status_after_decision(**waiting, met=False) == "pending_approval"
    assert approval_rules.status_after_decision(**waiting, met=True) == "queued"


def test_only_a_deployment_waiting_for_approval_takes_decisions():
    approval_rules.require_pending_approval("pending_approval")
    with pytest.raises(Conflict) as caught:
        approval_rules.require_pending_approval("queued")
    assert caught.value.code == "not_pending_approval"


# -- rollback completion ----------------------------------------------------------------------------


def test_a_succeeded_rollback_marks_the_deployment_it_replaced():
    assert rules.replaced_by_success(kind="rollback", status="succeeded", replaces_id="live") == "live"


@pytest.mark.parametrize(
    ("kind", "status"),
    [("rollback", "in_progress"), ("rollback", "failed"), ("rollback", "cancelled"), ("deploy", "succeeded")],
)
def test_nothing_is_rolled_back_by_a_rollback_that_has_not_succeeded_nor_by_a_deploy(kind, status):
    assert rules.replaced_by_success(kind=kind, status=status, replaces_id="live") is None


# -- locks ------------------------------------------------------------------------------------------


def a_lock(**overrides):
    base = {
        "id": "l1",
        "environment": "production",
        "reason": "INC-4711",
        "locked_by": "Ana <ana@example.com>",
        "locked_at": NOW - timedelta(minutes=5),
    }
    return holds.Lock(**(base | overrides))


def test_a_lock_holds_its_environment_for_its_application_until_its_unlock_time():
    everyone = a_lock()
    shop_only = a_lock(application="shop", unlock_at=NOW + timedelta(minutes=1))

    assert everyone.holds("production", NOW, "cart") and not everyone.holds("staging", NOW, "cart")
    assert shop_only.holds("production", NOW, "shop") and not shop_only.holds("production", NOW, "cart")
    assert not shop_only.holds("production", NOW + timedelta(minutes=1), "shop")  # unlocked itself, on the minute


def test_the_lock_gate_names_who_when_why_and_until_when_and_an_override_passes_it():
    lock = a_lock(unlock_at=NOW + timedelta(hours=1))
    held = facts(environment="production", locks=[lock])

    (blocker,) = rules.blockers(held, NOW)
    assert blocker.code == "environment_locked"
    assert "Ana <ana@example.com>" in blocker.detail and "INC-4711" in blocker.detail
    assert lock.locked_at.isoformat() in blocker.detail and lock.unlock_at.isoformat() in blocker.detail
    assert rules.blockers(facts(environment="production", locks=[lock], override_lock=True), NOW) == []
    assert rules.blockers(facts(environment="staging", locks=[lock]), NOW) == []


def test_a_lock_stops_every_move_to_running_even_a_rollback_but_not_one_it_was_overridden_for():
    lock = (a_lock(),)

    assert codes(rules.move_blockers(move(locks=lock), NOW)) == ["environment_locked"]
    assert codes(rules.move_blockers(move(locks=lock, kind="rollback"), NOW)) == ["environment_locked"]
    assert rules.move_blockers(move(locks=lock, overridden_locks=frozenset({"l1"})), NOW) == []
    later = (a_lock(), a_lock(id="l2", reason="second"))
    assert "second" in rules.move_blockers(move(locks=later, overridden_locks=frozenset({"l1"})), NOW)[0].detail


def test_overriding_a_lock_of_every_application_is_the_organisations():
    assert holds.override_scopes([a_lock()], "shop") == {None}
    assert holds.override_scopes([a_lock(application="shop")], "shop") == {"shop"}


# -- expiry -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "idle_hours", "stale"),
    [
        ("pending_approval", 23.9, False),
        ("pending_approval", 24, True),  # on the hour
        ("queued", 30, True),
        ("in_progress", 100, False),  # running: only its pipeline ends it
        ("succeeded", 100, False),
    ],
)
def test_only_a_waiting_deployment_goes_stale_and_on_its_hour(status, idle_hours, stale):
    moved = NOW - timedelta(hours=idle_hours)

    assert rules.is_stale(status, moved, NOW, expire_after_hours=24) is stale


def test_expired_is_a_terminal_status_no_report_moves_it():
    assert "expired" in rules.FINISHED and "expired" not in rules.ACTIVE
    with pytest.raises(Conflict):
        rules.next_status("expired", "in_progress")


# -- forward-only -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "live", "allow_older", "older"),
    [
        ("1.0.0", "1.1.0", False, True),
        ("1.9.0", "1.10.0", False, True),  # by number, not as text
        ("2.0.0-rc.1", "2.0.0", False, True),  # a pre-release comes before its release
        ("1.1.0", "1.1.0", False, False),  # the same again
        ("1.2.0", "1.1.0", False, False),
        ("1.0.0", None, False, False),  # nothing live yet
        ("1.0.0", "1.1.0", True, False),  # the stage allows it
    ],
)
def test_forward_only_refuses_only_an_older_release_where_the_stage_forbids_it(version, live, allow_older, older):
    found = rules.blockers(facts(version=version, live_version=live, allow_older=allow_older, application="shop"), NOW)

    assert codes(found) == (["older_than_live"] if older else [])


def test_a_fix_passes_only_the_freezes_that_allow_fixes():
    strict = holds.Freeze(environment=None, starts_at=NOW, ends_at=NOW + timedelta(hours=1), reason="strict", id="a")
    lenient = holds.Freeze(
        environment=None, starts_at=NOW, ends_at=NOW + timedelta(hours=1), reason="lenient", id="b", allows_fixes=True
    )

    assert rules.holding_freezes([strict, lenient], "production", NOW, "shop", "fix") == [strict]
    assert rules.holding_freezes([strict, lenient], "production", NOW, "shop", "change") == [strict, lenient]
    assert rules.move_blockers(move(freezes=(lenient,), release_kind="fix"), NOW) == []
    assert codes(rules.move_blockers(move(freezes=(lenient,)), NOW)) == ["environment_frozen"]


# -- deploy windows ---------------------------------------------------------------------------------


def windows(outside="refuse"):
    return holds.DeployWindows(({"day": "tue", "start": "10:00", "end": "16:00"},), "Europe/Berlin", outside)


def test_a_deploy_window_opens_and_closes_on_the_minute_in_its_zone():
    tuesday_berlin = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)  # 10:00 in Berlin

    assert windows().open_at(tuesday_berlin)
    assert not windows().open_at(tuesday_berlin - timedelta(minutes=1))
    assert not windows().open_at(tuesday_berlin + timedelta(hours=6))  # 16:00: closed


def test_outside_a_window_refuse_blocks_the_request_and_wait_only_the_start():
    friday = datetime(2026, 12, 11, 11, 0, tzinfo=UTC)

    assert codes(rules.blockers(facts(windows=windows("refuse")), friday)) == ["outside_deploy_window"]
    assert rules.blockers(facts(windows=windows("wait")), friday) == []
    for outside in ("refuse", "wait"):
        assert codes(rules.move_blockers(move(windows=windows(outside), starting=True), friday)) == [
            "outside_deploy_window"
        ]
        assert rules.move_blockers(move(windows=windows(outside), starting=False), friday) == []  # an approval
        assert rules.move_blockers(move(windows=windows(outside), starting=True, kind="rollback"), friday) == []
