"""Which audited change yields which event, who gets it, and when a failed delivery is tried again."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from shared.errors import Invalid
from shared.events import rules

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("action", "data", "expected"),
    [
        ("release.created", {"status": "draft"}, ["release.created"]),
        ("release.created", {"status": "ready"}, ["release.created", "release.ready"]),
        ("release.finalized", {"status": "ready"}, ["release.ready"]),
        ("release.cancelled", {"status": "cancelled"}, ["release.cancelled"]),
        ("deployment.requested", {"status": "queued"}, ["deployment.requested"]),
        (
            "deployment.requested",
            {"status": "pending_approval"},
            ["deployment.requested", "deployment.pending_approval"],
        ),
        (
            "deployment.requested",
            {"status": "queued", "skipped_stages": ["staging"]},
            ["deployment.requested", "deployment.stage_skipped"],
        ),
        ("deployment.requested", {"status": "queued", "skipped_stages": []}, ["deployment.requested"]),
        ("deployment.rollback_requested", {"to_release": "r"}, ["deployment.requested"]),
        ("deployment.approved", {"status": "queued"}, ["deployment.approved"]),
        ("deployment.rejected", {"status": "rejected"}, ["deployment.rejected"]),
        ("deployment.status_changed", {"from": "queued", "to": "in_progress"}, ["deployment.started"]),
        ("deployment.status_changed", {"from": "in_progress", "to": "succeeded"}, ["deployment.succeeded"]),
        ("deployment.status_changed", {"from": "in_progress", "to": "failed"}, ["deployment.failed"]),
        ("deployment.status_changed", {"from": "queued", "to": "cancelled"}, ["deployment.cancelled"]),
        ("deployment.cancelled", {"from": "queued"}, ["deployment.cancelled"]),
        ("deployment.rolled_back", {"by": "d"}, ["deployment.rolled_back"]),
        ("freeze.created", {}, ["freeze.created"]),
        ("freeze.deleted", {}, ["freeze.deleted"]),
    ],
)
def test_each_audited_change_to_releases_deployments_and_freezes_yields_its_events(action, data, expected):
    assert rules.events_for(action, data) == expected


@pytest.mark.parametrize(
    "action",
    [
        "user.registered",
        "auth.login_failed",
        "api_token.created",
        "release.updated",
        "release.deleted",
        "environment.created",
    ],
)
def test_sign_ins_tokens_draft_edits_and_settings_yield_no_event(action):
    assert rules.events_for(action, {}) == []


def test_every_event_type_the_audit_log_can_yield_is_in_the_catalogue():
    yielded = {
        event
        for action, data in [
            ("release.created", {"status": "ready"}),
            ("release.cancelled", {}),
            ("deployment.requested", {"status": "pending_approval"}),
            ("deployment.requested", {"status": "queued", "skipped_stages": ["staging"]}),
            ("deployment.approved", {}),
            ("deployment.rejected", {}),
            ("deployment.rolled_back", {}),
            ("deployment.expired", {}),
            ("freeze.created", {}),
            ("freeze.deleted", {}),
            ("environment.locked", {}),
            ("environment.unlocked", {}),
            ("application.updated", {}),
            ("environment.updated", {}),
            ("drift.detected", {}),
            *[("deployment.status_changed", {"to": s}) for s in ("in_progress", "succeeded", "failed", "cancelled")],
        ]
        for event in rules.events_for(action, data)
    }
    assert yielded == set(rules.EVENT_TYPES)


def test_a_subscription_filter_keeps_known_types_in_catalogue_order():
    assert rules.check_event_filter(["deployment.failed", "release.created", "deployment.failed"]) == [
        "release.created",
        "deployment.failed",
    ]
    assert rules.check_event_filter(["*"]) == ["*"]


@pytest.mark.parametrize("events", [[], ["deployment.exploded"], ["*", "release.created"]])
def test_an_empty_unknown_or_mixed_wildcard_filter_is_refused(events):
    with pytest.raises(Invalid) as refused:
        rules.check_event_filter(events)
    assert refused.value.errors[0].field == "events"


def test_unknown_event_types_are_named():
    with pytest.raises(Invalid, match=r"deployment\.exploded") as refused:
        rules.check_event_filter(["deployment.exploded", "release.created"])
    assert refused.value.code == "unknown_event_type"


def test_a_subscription_gets_the_types_it_names_or_every_type_with_a_star():
    assert rules.matches(events=["*"], applications=None, event_type="freeze.created", application=None)
    assert rules.matches(
        events=["deployment.failed"], applications=None, event_type="deployment.failed", application="checkout"
    )
    assert not rules.matches(
        events=["deployment.failed"], applications=None, event_type="deployment.succeeded", application="checkout"
    )


def test_an_application_filter_keeps_other_applications_out_but_lets_freezes_in():
    wanted = {"events": ["*"], "applications": ["checkout"]}
    assert rules.matches(**wanted, event_type="release.created", application="checkout")
    assert not rules.matches(**wanted, event_type="release.created", application="billing")
    assert rules.matches(**wanted, event_type="freeze.created", application=None)


def test_disabled_subscriptions_get_nothing():
    on = SimpleNamespace(events=["*"], applications=None, is_active=True)
    off = SimpleNamespace(events=["*"], applications=None, is_active=False)
    other = SimpleNamespace(events=["*"], applications=["billing"], is_active=True)
    assert rules.subscribers([on, off, other], event_type="release.ready", application="checkout") == [on]


def test_retries_back_off_from_seconds_to_a_day_then_give_up():
    delays = [rules.next_attempt(n, NOW) for n in range(1, rules.MAX_ATTEMPTS + 1)]
    assert [d - NOW for d in delays[:-1]] == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=14),
        timedelta(hours=20),
        timedelta(hours=24),
    ]
    assert delays[-1] is None
    assert rules.MAX_ATTEMPTS == 10


def test_jitter_moves_a_retry_by_at_most_its_fraction_either_way():
    earliest = rules.next_attempt(4, NOW, jitter=0.1, rand=lambda: 0.0)
    latest = rules.next_attempt(4, NOW, jitter=0.1, rand=lambda: 0.999999)
    assert earliest == NOW + timedelta(hours=2) * 0.9
    assert NOW + timedelta(hours=2) < latest <= NOW + timedelta(hours=2) * 1.1


def test_attempts_are_numbered_from_one():
    with pytest.raises(ValueError):
        rules.next_attempt(0, NOW)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, "succeeded"),
        (204, "succeeded"),
        (299, "succeeded"),
        (410, "disable"),
        (301, "retry"),
        (404, "retry"),
        (500, "retry"),
        (503, "retry"),
        (None, "retry"),
    ],
)
def test_2xx_succeeds_410_disables_anything_else_or_no_answer_is_retried(status, verdict):
    assert rules.verdict(status) == verdict


def test_after_a_failed_attempt_the_delivery_is_retrying_until_the_last_then_failed():
    assert rules.after_attempt(attempt=1, response_status=500, now=NOW) == rules.Decision(
        "retrying", NOW + timedelta(seconds=5)
    )
    assert rules.after_attempt(attempt=10, response_status=None, now=NOW) == rules.Decision("failed", None)
    assert rules.after_attempt(attempt=3, response_status=202, now=NOW) == rules.Decision("succeeded", None)


def test_a_410_fails_the_delivery_at_once_and_disables_the_subscription():
    decision = rules.after_attempt(attempt=1, response_status=410, now=NOW)
    assert decision == rules.Decision("failed", None, disable_subscription=True)
