"""The releases function: freeze windows (shared/deployments/freezes.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import deploy, ready_release, report

# -- freezes --------------------------------------------------------------------------------------


def test_a_freeze_blocks_and_an_admin_may_override_it_with_a_reason(releases, developer, manager, admin):
    release = ready_release(releases, developer)
    now = datetime.now(UTC)
    freeze = releases.post(
        "/releases/freezes",
        json={
            "starts_at": (now - timedelta(minutes=5)).isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
            "reason": "Year-end",
        },
        headers=manager,
    )
    assert freeze.status_code == 201 and freeze.get_json()["active"] is True

    blocked = deploy(releases, developer, release["id"], "dev")
    not_admin = deploy(releases, manager, release["id"], "dev", override_freeze=True, reason="hotfix")
    no_reason = deploy(releases, admin, release["id"], "dev", override_freeze=True)
    overridden = deploy(releases, admin, release["id"], "dev", override_freeze=True, reason="Security hotfix")

    assert blocked.get_json()["code"] == "environment_frozen"
    assert not_admin.status_code == 403
    assert no_reason.status_code == 422 and no_reason.get_json()["errors"][0]["field"] == "reason"
    assert overridden.status_code == 201
    assert overridden.get_json()["override_freeze"] is True


def test_freeze_windows_are_listed_and_deleted(releases, developer, manager):
    created = releases.post(
        "/releases/freezes",
        json={
            "environment": "production",
            "weekly": [{"day": "fri", "start": "16:00", "end": "23:59"}],
            "timezone": "Europe/Berlin",
            "reason": "No Friday deploys",
        },
        headers=manager,
    ).get_json()

    listed = releases.get("/releases/freezes", headers=developer).get_json()["items"]
    assert [f["id"] for f in listed] == [created["id"]]
    assert releases.post("/releases/freezes", json={"reason": "x", "weekly": []}, headers=developer).status_code == 403
    assert releases.delete(f"/releases/freezes/{created['id']}", headers=manager).status_code == 204
    assert releases.get("/releases/freezes", headers=developer).get_json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "x"}, "starts_at"),
        ({"reason": "x", "starts_at": "2026-12-02T00:00:00Z", "ends_at": "2026-12-01T00:00:00Z"}, "ends_at"),
        ({"reason": "x", "weekly": [{"day": "fri", "start": "16:00", "end": "18:00"}]}, "timezone"),
        (
            {"reason": "x", "weekly": [{"day": "fri", "start": "16:00", "end": "18:00"}], "timezone": "Mars/Olympus"},
            "timezone",
        ),
        (
            {"reason": "x", "weekly": [{"day": "someday", "start": "16:00", "end": "18:00"}], "timezone": "UTC"},
            "weekly.0.day",
        ),
        (
            {"reason": "x", "weekly": [{"day": "fri", "start": "25:00", "end": "18:00"}], "timezone": "UTC"},
            "weekly.0.start",
        ),
        ({"reason": "x", "starts_at": "2026-12-01T00:00:00", "ends_at": "2026-12-02T00:00:00Z"}, "starts_at"),
    ],
)
def test_invalid_freezes_are_422_naming_the_field(releases, manager, body, field):
    response = releases.post("/releases/freezes", json=body, headers=manager)

    assert response.status_code == 422
    assert field in [e["field"] for e in response.get_json()["errors"]]


def test_environment_and_freeze_lists_page_like_every_list(releases, developer, manager):
    for day in ("mon", "tue", "wed"):
        releases.post(
            "/releases/freezes",
            json={"weekly": [{"day": day, "start": "01:00", "end": "02:00"}], "timezone": "UTC", "reason": day},
            headers=manager,
        )

    environments = releases.get("/releases/environments?limit=2", headers=developer)
    first = releases.get("/releases/freezes?limit=2", headers=developer).get_json()
    second = releases.get(f"/releases/freezes?limit=2&cursor={first['next_cursor']}", headers=developer).get_json()

    assert [e["name"] for e in environments.get_json()["items"]] == ["dev", "staging"]
    assert 'rel="next"' in environments.headers["Link"]
    assert [f["reason"] for f in first["items"] + second["items"]] == ["mon", "tue", "wed"]
    assert second["next_cursor"] is None


def test_weekly_windows_take_full_day_names_and_seconds(releases, manager):
    response = releases.post(
        "/releases/freezes",
        json={"weekly": [{"day": "Friday", "start": "16:00:00", "end": "23:59"}], "timezone": "UTC", "reason": "x"},
        headers=manager,
    )

    assert response.status_code == 201
    assert response.get_json()["weekly"] == [{"day": "fri", "start": "16:00", "end": "23:59"}]


# -- fixes through a freeze -------------------------------------------------------------------------


def freeze_for(releases, manager, **extra):
    now = datetime.now(UTC)
    body = {
        "environment": "dev",
        "starts_at": (now - timedelta(minutes=5)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "reason": "Code freeze for the launch",
    }
    made = releases.post("/releases/freezes", json=body | extra, headers=manager)
    assert made.status_code == 201, made.get_json()
    return made.get_json()


def test_a_freeze_that_allows_fixes_lets_a_fix_through_without_an_override_and_nothing_else(
    releases, developer, manager
):
    freeze = freeze_for(releases, manager, allow_fixes=True)
    incident = "https://status.example.com/incidents/4711"
    fix = ready_release(releases, developer, version="1.0.1", kind="fix", incident_url=incident)
    change = ready_release(releases, developer, application="cart", version="1.1.0")

    through = deploy(releases, developer, fix["id"], "dev")
    held = deploy(releases, developer, change["id"], "dev")
    started = report(releases, developer, fix["id"], through.get_json()["id"], "in_progress")

    assert freeze["allow_fixes"] is True
    assert fix["kind"] == "fix" and fix["incident_url"] == incident
    assert through.status_code == 201 and through.get_json()["override_freeze"] is False
    assert held.status_code == 409 and held.get_json()["code"] == "environment_frozen"
    assert started.status_code == 200  # the freeze lets it start too


def test_a_freeze_holds_fixes_unless_it_says_so(releases, developer, manager):
    freeze_for(releases, manager)
    fix = ready_release(
        releases, developer, version="1.0.1", kind="fix", incident_url="https://status.example.com/incidents/1"
    )

    assert deploy(releases, developer, fix["id"], "dev").get_json()["code"] == "environment_frozen"


def test_a_fix_names_its_incident(releases, developer):
    body = {"application": "shop", "version": "1.0.1", "title": "Hotfix", "kind": "fix"}

    no_incident = releases.post("/releases", json=body, headers=developer)
    not_a_url = releases.post("/releases", json=body | {"incident_url": "INC-4711"}, headers=developer)
    unknown_kind = releases.post("/releases", json=body | {"kind": "hotfix"}, headers=developer)

    assert no_incident.status_code == 422 and "incident_url" in [e["field"] for e in no_incident.get_json()["errors"]]
    assert not_a_url.status_code == 422 and unknown_kind.status_code == 422
    assert releases.get("/releases?application=shop", headers=developer).get_json()["items"] == []
