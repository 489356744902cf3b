"""Authorization over (role, scope, action), on the real services: a binding reaches exactly its
application and environments, and every write checks its own scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.factories import (
    access_token,
    as_role,
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


def person(auth, admin, role, application=None, environments=None, *, team=None) -> dict[str, str]:
    """An org-wide viewer holding `role` on a scope (directly, or through `team`); their headers."""
    user = make_user()
    if team is not None:
        auth.put(f"/auth/teams/{team['name']}/members/{user['id']}", headers=admin)
        bind(auth, admin, team, role, application, environments, kind="team")
    else:
        bind(auth, admin, user, role, application, environments)
    return bearer(access_token(user))


@pytest.fixture
def world(auth, releases, admin) -> dict[str, Any]:
    """Two teams sharing the service: payments owns checkout, discovery owns search."""
    register_application(releases, admin, "checkout")
    register_application(releases, admin, "search")
    payments, discovery = make_team(auth, admin, "payments"), make_team(auth, admin, "discovery")
    _, org_developer = as_role("developer")
    return {
        "admin": admin,
        "org_developer": org_developer,
        "payments_dev": person(auth, admin, "developer", "checkout", team=payments),
        "discovery_dev": person(auth, admin, "developer", "search", team=discovery),
        "checkout_prod_rm": person(auth, admin, "release_manager", "checkout", ["production"]),
        "checkout_dev_only": person(auth, admin, "developer", "checkout", ["dev"]),
        "checkout": ready_release(releases, org_developer, application="checkout"),
        "search": ready_release(releases, org_developer, application="search"),
    }


def _create(releases, headers, application):
    body = {"application": application, "version": "9.0.0", "title": "t"}
    return releases.post("/releases", json=body, headers=headers)


def _draft(releases, world, application):
    response = _create(releases, world["org_developer"], application)
    assert response.status_code == 201
    return response.get_json()["id"]


ACTIONS = {
    "create": lambda r, w, h, app: _create(r, h, app),
    "edit": lambda r, w, h, app: r.patch(f"/releases/{_draft(r, w, app)}", json={"title": "x"}, headers=h),
    "finalize": lambda r, w, h, app: r.post(f"/releases/{_draft(r, w, app)}/finalize", headers=h),
    "cancel": lambda r, w, h, app: r.post(f"/releases/{_draft(r, w, app)}/cancel", json={"reason": "x"}, headers=h),
    "delete": lambda r, w, h, app: r.delete(f"/releases/{_draft(r, w, app)}", headers=h),
    "deploy to dev": lambda r, w, h, app: deploy(r, h, w[app]["id"], "dev"),
    "deploy to staging": lambda r, w, h, app: deploy(r, h, w[app]["id"], "staging"),
}

CASES = [
    # (who, action, application, status)
    ("payments_dev", "create", "checkout", 201),
    ("payments_dev", "create", "search", 403),
    ("discovery_dev", "create", "checkout", 403),
    ("payments_dev", "edit", "checkout", 200),
    ("payments_dev", "edit", "search", 403),
    ("payments_dev", "finalize", "search", 403),
    ("payments_dev", "cancel", "search", 403),
    ("payments_dev", "delete", "search", 403),
    ("payments_dev", "delete", "checkout", 204),
    ("payments_dev", "deploy to dev", "checkout", 201),
    ("payments_dev", "deploy to dev", "search", 403),
    ("discovery_dev", "deploy to dev", "search", 201),
    ("checkout_dev_only", "deploy to dev", "checkout", 201),
    ("checkout_dev_only", "deploy to staging", "checkout", 403),  # an environment binding does not leak
    ("checkout_dev_only", "create", "checkout", 403),  # creating names no environment: all are needed
    ("checkout_prod_rm", "deploy to dev", "checkout", 403),  # a release manager of production only
]


@pytest.mark.parametrize(("who", "action", "application", "status"), CASES)
def test_each_write_is_checked_against_its_scope(releases, world, who, action, application, status):
    response = ACTIONS[action](releases, world, world[who], application)

    assert response.status_code == status, response.get_json()
    if status == 403:
        assert response.get_json()["code"] == "insufficient_role"


def test_a_pipeline_reports_only_on_its_own_applications_deployments(releases, world):
    deployment = deploy(releases, world["org_developer"], world["search"]["id"], "dev").get_json()

    theirs = report(releases, world["payments_dev"], world["search"]["id"], deployment["id"], "in_progress")
    own = report(releases, world["discovery_dev"], world["search"]["id"], deployment["id"], "in_progress")

    assert theirs.status_code == 403
    assert own.status_code == 200


def test_registering_an_application_by_its_first_release_needs_an_org_wide_developer(releases, world):
    refused = _create(releases, world["payments_dev"], "brand-new")
    allowed = _create(releases, world["org_developer"], "brand-new")

    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"
    assert allowed.status_code == 201
    assert releases.get("/releases/applications/brand-new", headers=world["payments_dev"]).status_code == 200


def _awaiting_production(releases, world, application):
    release = world[application]
    ship(releases, world["org_developer"], release["id"], "dev")
    ship(releases, world["org_developer"], release["id"], "staging")
    _, requester = as_role("developer")
    deployment = deploy(releases, requester, release["id"], "production").get_json()
    assert deployment["status"] == "pending_approval"
    return f"/releases/{release['id']}/deployments/{deployment['id']}/approvals"


def test_a_release_manager_of_production_of_one_app_cannot_approve_another(releases, world):
    search = _awaiting_production(releases, world, "search")
    checkout = _awaiting_production(releases, world, "checkout")
    decision = {"decision": "approve", "comment": "ok"}

    refused = releases.post(search, json=decision, headers=world["checkout_prod_rm"])
    approved = releases.post(checkout, json=decision, headers=world["checkout_prod_rm"])

    assert refused.status_code == 403 and refused.get_json()["code"] == "insufficient_role"
    assert approved.status_code == 201 and approved.get_json()["deployment"]["status"] == "queued"


def test_rollback_and_freezes_are_checked_on_their_application_and_environment(releases, world):
    now = datetime.now(UTC)
    window = {"starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat(), "reason": "r"}
    rm = world["checkout_prod_rm"]

    mine = releases.post(
        "/releases/freezes", json=window | {"environment": "production", "application": "checkout"}, headers=rm
    )
    every_app = releases.post("/releases/freezes", json=window | {"environment": "production"}, headers=rm)
    every_env = releases.post("/releases/freezes", json=window | {"application": "checkout"}, headers=rm)
    staging = releases.post(
        "/releases/freezes", json=window | {"environment": "staging", "application": "checkout"}, headers=rm
    )
    rollback_staging = releases.post(
        "/releases/rollback", json={"application": "checkout", "environment": "staging", "reason": "r"}, headers=rm
    )
    rollback_prod = releases.post(
        "/releases/rollback", json={"application": "checkout", "environment": "production", "reason": "r"}, headers=rm
    )

    assert mine.status_code == 201 and mine.get_json()["application"] == "checkout"
    assert [every_app.status_code, every_env.status_code, staging.status_code] == [403, 403, 403]
    assert rollback_staging.status_code == 403
    assert rollback_prod.status_code == 409  # allowed, and nothing to roll back to
    assert (
        releases.delete(f"/releases/freezes/{mine.get_json()['id']}", headers=world["payments_dev"]).status_code == 403
    )
    assert releases.delete(f"/releases/freezes/{mine.get_json()['id']}", headers=rm).status_code == 204


def test_a_binding_removed_while_the_access_token_is_valid_stops_its_next_request(auth, releases, admin):
    register_application(releases, admin, "checkout")
    user = make_user()
    binding = bind(auth, admin, user, "developer", "checkout")
    headers = bearer(access_token(user))
    assert _create(releases, headers, "checkout").status_code == 201  # its state is cached now

    assert auth.delete(f"/auth/bindings/{binding['id']}", headers=admin).status_code == 204
    after = releases.post(
        "/releases", json={"application": "checkout", "version": "9.1.0", "title": "t"}, headers=headers
    )

    assert after.status_code == 403


def test_a_viewer_reads_everything_and_writes_nothing(releases, world, viewer):
    assert releases.get("/releases?application=search", headers=viewer).status_code == 200
    assert releases.get("/releases/applications", headers=viewer).status_code == 200
    assert _create(releases, viewer, "checkout").status_code == 403
