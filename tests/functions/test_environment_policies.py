"""Environment policies and promotion paths that hold: what is sent is what is stored, answered and
audited; no application's admin goes below what an organisation-wide admin set; the organisation's
freeze is lifted only by an organisation-wide admin. Real PostgreSQL and Redis throughout."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from shared.applications.tables import application_stages
from shared.events import dispatch
from shared.platform.db import get_engine
from tests.factories import (
    access_token,
    as_role,
    audit_of,
    bearer,
    bind,
    deploy,
    make_team,
    make_user,
    ready_release,
    register_application,
    report,
    ship,
)
from tests.functions.test_events import private_targets, subscribe  # noqa: F401 - a fixture
from tests.integration.events.receivers import receiver

DEFAULTS = {
    "required_approvals": 0,
    "soak_minutes": 0,
    "approver_team": None,
    "allow_older": False,
    "approval_rules": [],
    "skippable_by": None,
    "auto_promote": False,
    "train_schedule": None,
    "train_timezone": None,
    "auto_rollback": False,
}
# Stages whose bodies carry different keys: none but the environment, some, all of them.
SHAPES = [
    {"environment": "dev"},
    {"environment": "staging", "soak_minutes": 30},
    {
        "environment": "production",
        "required_approvals": 1,
        "approver_team": "sre",
        "allow_older": True,
        "skippable_by": "admin",
        "auto_rollback": True,
    },
]


def stored_path(name: str) -> list[dict]:
    with get_engine().connect() as conn:
        rows = conn.execute(
            sa.select(application_stages)
            .where(application_stages.c.application == name)
            .order_by(application_stages.c.position)
        )
        return [
            {
                k: getattr(r, k)
                for k in (
                    "environment",
                    "required_approvals",
                    "soak_minutes",
                    "approver_team",
                    "allow_older",
                    "approval_rules",
                    "skippable_by",
                    "auto_promote",
                    "train_schedule",
                    "train_timezone",
                    "auto_rollback",
                )
            }
            for r in rows
        ]


def put_policy(releases, headers, environment, **policy):
    return releases.put(f"/releases/environments/{environment}/policy", json=policy, headers=headers)


@pytest.fixture
def sre(auth, admin):
    member = make_user("release_manager")
    make_team(auth, admin, "sre", members=[member])
    return bearer(access_token(member))


# -- a path is stored exactly as sent ---------------------------------------------------------------


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=lambda o: "-".join(map(str, o)))
def test_every_stage_is_stored_answered_and_audited_as_sent_whatever_keys_each_carries(releases, admin, sre, order):
    register_application(releases, admin, "edge")
    sent = [SHAPES[i] for i in order]
    expected = [DEFAULTS | stage for stage in sent]

    answer = releases.patch("/releases/applications/edge", json={"path": sent}, headers=admin)
    (event,) = [e for e in audit_of(releases, "edge") if e["action"] == "application.updated"]

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["path"] == expected
    assert stored_path("edge") == expected
    assert event["data"]["path"] == expected


def test_the_readme_path_keeps_its_production_gate_on_create_and_on_change(releases, admin, sre, developer):
    path = [{"environment": "dev"}, {"environment": "production", "required_approvals": 1, "approver_team": "sre"}]
    created = register_application(releases, admin, "edge", path=path)
    register_application(releases, admin, "shop")
    changed = releases.patch("/releases/applications/shop", json={"path": path}, headers=admin).get_json()
    release = ready_release(releases, developer, application="shop")
    ship(releases, developer, release["id"], "dev")
    _, outsider = as_role("release_manager")

    requested = deploy(releases, developer, release["id"], "production").get_json()
    refused = releases.post(
        f"/releases/{release['id']}/deployments/{requested['id']}/approvals",
        json={"decision": "approve"},
        headers=outsider,
    )

    production = DEFAULTS | path[1]
    assert created["path"][1] == production and changed["path"][1] == production
    assert stored_path("edge")[1] == production and stored_path("shop")[1] == production
    assert requested["status"] == "pending_approval"
    assert (refused.status_code, refused.get_json()["code"]) == (403, "not_an_approver")


# -- environment policies ----------------------------------------------------------------------------


def test_only_an_organisation_wide_admin_sets_a_policy_and_it_is_shown_with_its_environment(auth, releases, admin, sre):
    register_application(releases, admin, "edge")
    team_lead = make_user()
    bind(auth, admin, team_lead, "admin", "edge")

    by_team_lead = put_policy(releases, bearer(access_token(team_lead)), "production", min_approvals=2)
    unknown_team = put_policy(releases, admin, "production", approver_team="nobody")
    missing = put_policy(releases, admin, "moon", min_approvals=1)
    extra_field = put_policy(releases, admin, "production", min_approval=1)
    before = releases.get("/releases/environments/production/policy", headers=admin)
    stale = releases.put(
        "/releases/environments/production/policy", json={"min_approvals": 1}, headers=admin | {"If-Match": '"x"'}
    )
    put = releases.put(
        "/releases/environments/production/policy",
        json={"min_approvals": 2, "approver_team": "sre", "skippable": False},
        headers=admin | {"If-Match": before.headers["ETag"]},
    )
    listed = releases.get("/releases/environments", headers=admin).get_json()["items"]

    assert (by_team_lead.status_code, by_team_lead.get_json()["code"]) == (403, "insufficient_role")
    assert (unknown_team.status_code, unknown_team.get_json()["code"]) == (422, "unknown_team")
    assert (missing.status_code, missing.get_json()["code"]) == (404, "environment_not_found")
    assert extra_field.status_code == 422
    assert before.get_json() | {"updated_at": None} == {
        "environment": "production",
        "min_approvals": 0,
        "approver_team": None,
        "skippable": True,
        "expire_after_hours": 24,
        "deploy_windows": None,
        "windows_timezone": None,
        "outside_window": "refuse",
        "approval_rules": [],
        "updated_at": None,
    }
    assert stale.status_code == 412
    assert put.status_code == 200
    assert put.get_json()["min_approvals"] == 2 and put.get_json()["approver_team"] == "sre"
    production = next(e for e in listed if e["name"] == "production")
    assert production["policy"] == put.get_json()
    assert [e["data"]["policy"]["after"]["min_approvals"] for e in audit_of(releases, "production")] == [2]


def test_an_application_admin_cannot_take_a_path_below_the_policy(auth, releases, admin, sre):
    register_application(releases, admin, "edge")
    team_lead = make_user()
    bind(auth, admin, team_lead, "admin", "edge")
    lead = bearer(access_token(team_lead))
    assert put_policy(releases, admin, "production", min_approvals=1, approver_team="sre").status_code == 200

    no_team = releases.patch(
        "/releases/applications/edge",
        json={"path": [{"environment": "dev"}, {"environment": "production", "required_approvals": 1}]},
        headers=lead,
    )
    no_approvals = releases.patch(
        "/releases/applications/edge",
        json={"path": [{"environment": "dev"}, {"environment": "production", "approver_team": "sre"}]},
        headers=lead,
    )
    at_the_floor = releases.patch(
        "/releases/applications/edge",
        json={"path": [{"environment": "production", "required_approvals": 2, "approver_team": "sre"}]},
        headers=lead,
    )

    assert (no_team.status_code, no_team.get_json()["code"]) == (422, "below_environment_policy")
    assert no_team.get_json()["errors"] == [
        {
            "field": "path.1.approver_team",
            "message": "production's environment policy asks for approvals from team sre",
            "code": "below_environment_policy",
        }
    ]
    assert no_approvals.get_json()["errors"][0]["field"] == "path.1.required_approvals"
    assert "at least 1 approvals" in no_approvals.get_json()["detail"]
    assert at_the_floor.status_code == 200
    assert stored_path("edge") == [
        DEFAULTS | {"environment": "production", "required_approvals": 2} | {"approver_team": "sre"}
    ]
    updates = [e for e in audit_of(releases, "edge") if e["action"] == "application.updated"]
    assert len(updates) == 1  # the refused changes wrote nothing


def test_a_policy_raises_paths_stored_before_it_and_the_default_path(auth, releases, admin, sre, developer):
    register_application(releases, admin, "edge", path=[{"environment": "dev"}, {"environment": "production"}])
    release = ready_release(releases, developer, application="edge")
    ship(releases, developer, release["id"], "dev")
    team_lead = make_user("release_manager")
    bind(auth, admin, team_lead, "admin", "edge")
    lead = bearer(access_token(team_lead))
    put_policy(releases, admin, "production", min_approvals=1, approver_team="sre")

    preflight = releases.post(
        f"/releases/{release['id']}/deployments/preflight", json={"environment": "production"}, headers=developer
    ).get_json()
    requested = deploy(releases, developer, release["id"], "production").get_json()
    url = f"/releases/{release['id']}/deployments/{requested['id']}/approvals"
    by_lead = releases.post(url, json={"decision": "approve"}, headers=lead)
    by_sre = releases.post(url, json={"decision": "approve"}, headers=sre)

    assert preflight["needs_approval"] is True and preflight["required_approvals"] == 1
    assert preflight["approver_teams"] == ["sre"] and preflight["policy"]["approver_team"] == "sre"
    assert requested["status"] == "pending_approval"
    assert (by_lead.status_code, by_lead.get_json()["code"]) == (403, "not_an_approver")
    assert by_sre.status_code == 201 and by_sre.get_json()["deployment"]["status"] == "queued"


def test_a_stage_the_policy_says_may_not_be_skipped_is_refused_on_the_path_and_at_the_gate(releases, admin, developer):
    register_application(releases, admin, "edge", path=[{"environment": "dev"}, {"environment": "production"}])
    release = ready_release(releases, developer, application="edge")
    ship(releases, developer, release["id"], "dev")
    assert put_policy(releases, admin, "staging", skippable=False).status_code == 200

    refused = releases.patch(
        "/releases/applications/edge", json={"path": [{"environment": "production"}]}, headers=admin
    )
    preflight = releases.post(
        f"/releases/{release['id']}/deployments/preflight", json={"environment": "production"}, headers=developer
    ).get_json()
    blocked = deploy(releases, developer, release["id"], "production")
    dev_still = releases.post(
        f"/releases/{release['id']}/deployments/preflight", json={"environment": "dev"}, headers=developer
    ).get_json()

    assert (refused.status_code, refused.get_json()["code"]) == (422, "below_environment_policy")
    assert "staging" in refused.get_json()["errors"][0]["message"]
    assert [b["code"] for b in preflight["blocking"]] == ["below_environment_policy"]
    assert (blocked.status_code, blocked.get_json()["code"]) == (409, "below_environment_policy")
    assert "below_environment_policy" not in [b["code"] for b in dev_still["blocking"]]


# -- freezes: the organisation's and a team's ----------------------------------------------------------


def freeze(releases, headers, *, application=None, environment="dev", reason="Launch day"):
    now = datetime.now(UTC)
    body = {"starts_at": (now - timedelta(minutes=1)).isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()}
    body |= {"environment": environment, "application": application, "reason": reason}
    response = releases.post("/releases/freezes", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def team_lead(auth, releases, admin):
    """An admin of `edge` alone (a developer organisation-wide)."""
    register_application(releases, admin, "edge")
    user = make_user("developer")
    bind(auth, admin, user, "admin", "edge")
    return bearer(access_token(user))


def test_only_an_organisation_wide_admin_overrides_the_organisations_freeze(releases, admin, team_lead):
    release = ready_release(releases, team_lead, application="edge")
    freeze(releases, admin, reason="Org-wide launch freeze")

    by_lead = deploy(releases, team_lead, release["id"], "dev", override_freeze=True, reason="hotfix")
    by_admin = deploy(releases, admin, release["id"], "dev", override_freeze=True, reason="hotfix")

    assert (by_lead.status_code, by_lead.get_json()["code"]) == (403, "freeze_override_forbidden")
    assert "organisation-wide admin" in by_lead.get_json()["detail"]
    assert by_admin.status_code == 201 and by_admin.get_json()["override_freeze"] is True


def test_a_teams_freeze_is_its_admins_to_override_and_the_override_covers_no_later_freeze(releases, admin, team_lead):
    release = ready_release(releases, team_lead, application="edge")
    freeze(releases, team_lead, application="edge", reason="Edge migration")

    requested = deploy(releases, team_lead, release["id"], "dev", override_freeze=True, reason="hotfix")
    freeze(releases, admin, reason="Org-wide incident")
    started = report(releases, team_lead, release["id"], requested.get_json()["id"], "in_progress")

    assert requested.status_code == 201, requested.get_json()
    assert (started.status_code, started.get_json()["code"]) == (409, "environment_frozen")
    assert "Org-wide incident" in started.get_json()["detail"]


# -- changes of a path or a policy are events ------------------------------------------------------------


def test_a_change_of_path_or_policy_is_delivered_as_an_event(releases, admin, private_targets, monkeypatch):  # noqa: F811
    monkeypatch.setattr(dispatch, "wake", lambda: None)  # delivered when the test dispatches, not by the thread
    with receiver() as box:
        subscribe(releases, admin, box.url("/ok"), events=["application.updated", "environment.updated"])
        register_application(releases, admin, "edge")
        releases.patch("/releases/applications/edge", json={"path": [{"environment": "dev"}]}, headers=admin)
        put_policy(releases, admin, "production", min_approvals=1)
        releases.post("/releases/events/dispatch", headers=admin)

        received = [json.loads(r.body) for r in box.requests]
    assert [e["type"] for e in received] == ["application.updated", "environment.updated"]
    assert received[0]["data"]["application"] == "edge"
    assert received[0]["data"]["changes"]["path"] == [DEFAULTS | {"environment": "dev"}]
    assert received[1]["data"]["environment"] == "production"
    assert received[1]["data"]["changes"]["policy"]["after"]["min_approvals"] == 1
