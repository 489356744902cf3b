"""The releases function: the organisation's change timeline, `GET /releases/timeline` (every
deployment, rollback, lock, freeze and policy change in a window, across applications, newest first;
shared/deployments/timeline.py), across three teams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.factories import bind, make_team, ready_release, register_application, ship


def page(releases, headers, query=""):
    answer = releases.get(f"/releases/timeline{query}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def three_teams(auth, releases, admin, developer, manager):
    """payments holds checkout, discovery search, platform gateway; each shipped to dev, and a lock and
    a freeze of production."""
    for team, application in (("payments", "checkout"), ("discovery", "search"), ("platform", "gateway")):
        register_application(releases, admin, application)
        bind(auth, admin, make_team(auth, admin, team), "developer", application=application, kind="team")
        ship(releases, developer, ready_release(releases, developer, application=application)["id"], "dev")
    locked = releases.post(
        "/releases/locks",
        json={"environment": "production", "application": "search", "reason": "INC-1"},
        headers=manager,
    )
    assert locked.status_code == 201, locked.get_json()
    now = datetime.now(UTC)
    frozen = releases.post(
        "/releases/freezes",
        json={
            "environment": "production",
            "reason": "Sale",
            "starts_at": (now + timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=2)).isoformat(),
        },
        headers=manager,
    )
    assert frozen.status_code == 201, frozen.get_json()


def test_the_timeline_shows_every_change_newest_first_with_filters(auth, releases, admin, developer, manager):
    three_teams(auth, releases, admin, developer, manager)

    everything = page(releases, developer, "?limit=100")["items"]
    production = page(releases, developer, "?environment=production")["items"]
    payments = page(releases, developer, "?team=payments&limit=100")["items"]

    seqs = [e["seq"] for e in everything]
    assert seqs == sorted(seqs, reverse=True)
    assert [e["kind"] for e in production] == ["freeze", "lock"]
    assert production[1]["application"] == "search" and production[1]["action"] == "environment.locked"
    assert production[0]["application"] is None and production[0]["data"]["reason"] == "Sale"
    assert {e["application"] for e in payments} == {"checkout"}
    moves = [(e["action"], e["data"].get("to")) for e in payments]
    assert moves == [
        ("deployment.status_changed", "succeeded"),
        ("deployment.status_changed", "in_progress"),
        ("deployment.requested", None),
    ]
    assert payments[0]["version"] == "1.0.0" and payments[0]["environment"] == "dev"
    assert payments[0]["actor_name"] == "Developer"


def test_a_window_and_keyset_pages(releases, developer):
    ship(releases, developer, ready_release(releases, developer)["id"], "dev")
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(days=3)).isoformat()

    first = releases.get("/releases/timeline?limit=2", headers=developer)
    rest = page(releases, developer, f"?limit=2&cursor={first.get_json()['next_cursor']}")
    before = page(releases, developer, f"?to={past.replace('+', '%2B')}")
    backwards = releases.get(f"/releases/timeline?from={later.replace('+', '%2B')}&to={past.replace('+', '%2B')}",
                             headers=developer)  # fmt: skip

    assert len(first.get_json()["items"]) == 2 and len(rest["items"]) == 1
    assert before["items"] == []
    assert backwards.status_code == 422
