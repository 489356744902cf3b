"""Applications as records with their own promotion paths: the gates follow the release's application's path."""

from __future__ import annotations

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
    ship,
)

SKIPS_STAGING = [{"environment": "dev"}, {"environment": "production", "required_approvals": 1}]


def test_an_application_whose_path_skips_staging_promotes_dev_to_production(releases, admin, developer, manager):
    register_application(releases, admin, "edge", path=SKIPS_STAGING)
    release = ready_release(releases, developer, application="edge")
    ship(releases, developer, release["id"], "dev")

    preflight = releases.post(
        f"/releases/{release['id']}/deployments/preflight", json={"environment": "production"}, headers=developer
    ).get_json()
    staging = deploy(releases, developer, release["id"], "staging")
    production = ship(releases, developer, release["id"], "production", approver=manager)

    assert preflight == {
        "allowed": True,
        "needs_approval": True,
        "required_approvals": 1,
        "approver_teams": [],
        "approval_rules": [{"count": 1, "team": None, "role": None}],
        "policy": None,
        "blocking": [],
        "changes": {
            "base_version": None,  # nothing live in production yet: this release is all it brings
            "direction": "forward",
            "count": 1,
            "releases": [{"version": release["version"], "title": release["title"]}],
            "commit_range": None,
            "compare_url": None,
        },
    }
    assert staging.status_code == 422 and staging.get_json()["code"] == "environment_not_on_path"
    assert production["status"] == "succeeded"


def test_the_default_path_is_the_environments_catalogue_and_follows_its_changes(releases, admin, developer):
    ready_release(releases, developer, application="shop")  # registers shop on the default path
    releases.put("/releases/environments/staging", json={"position": 2, "soak_minutes": 5}, headers=admin)

    shop = releases.get("/releases/applications/shop", headers=developer).get_json()

    assert shop["default_path"] is True
    assert [(s["environment"], s["soak_minutes"]) for s in shop["path"]] == [
        ("dev", 0),
        ("staging", 5),
        ("production", 0),
    ]


def test_each_application_has_its_own_approvals(releases, admin, developer):
    register_application(releases, admin, "edge", path=[{"environment": "dev", "required_approvals": 1}])
    release = ready_release(releases, developer, application="edge")
    other = ready_release(releases, developer, application="shop")

    assert deploy(releases, developer, release["id"], "dev").get_json()["status"] == "pending_approval"
    assert deploy(releases, developer, other["id"], "dev").get_json()["status"] == "queued"


def test_registering_and_changing_an_application(releases, admin, developer):
    created = releases.post(
        "/releases/applications",
        json={"name": "edge", "display_name": "Edge", "path": SKIPS_STAGING},
        headers=admin,
    )
    again = releases.post("/releases/applications", json={"name": "edge", "display_name": "E"}, headers=admin)
    by_developer = releases.post("/releases/applications", json={"name": "x", "display_name": "X"}, headers=developer)
    etag = releases.get("/releases/applications/edge", headers=developer).headers["ETag"]
    stale = releases.patch(
        "/releases/applications/edge", json={"display_name": "E"}, headers={**admin, "If-Match": '"nope"'}
    )
    reset = releases.patch("/releases/applications/edge", json={"path": None}, headers={**admin, "If-Match": etag})

    assert created.status_code == 201 and created.headers["Location"].endswith("/releases/applications/edge")
    assert created.get_json()["default_path"] is False and len(created.get_json()["path"]) == 2
    assert again.status_code == 409 and again.get_json()["code"] == "application_exists"
    assert by_developer.status_code == 403
    assert stale.status_code == 412
    assert reset.status_code == 200 and reset.get_json()["default_path"] is True
    assert [a["name"] for a in releases.get("/releases/applications", headers=developer).get_json()["items"]] == [
        "edge"
    ]


def test_a_path_names_environments_and_teams_that_exist_each_once(releases, admin):
    def create(path):
        return releases.post(
            "/releases/applications", json={"name": "edge", "display_name": "E", "path": path}, headers=admin
        )

    moon = create([{"environment": "dev"}, {"environment": "moon"}])
    team = create([{"environment": "dev", "approver_team": "nobody"}])
    twice = create([{"environment": "dev"}, {"environment": "dev"}])

    assert (moon.status_code, moon.get_json()["code"]) == (422, "unknown_environment")
    assert moon.get_json()["errors"][0]["field"] == "path.1.environment"
    assert (team.status_code, team.get_json()["code"]) == (422, "unknown_team")
    assert twice.status_code == 422
    assert releases.get("/releases/applications/edge", headers=admin).status_code == 404  # nothing half written


def test_an_admin_of_one_application_changes_it_and_no_other(auth, releases, admin):
    register_application(releases, admin, "edge")
    register_application(releases, admin, "shop")
    user = make_user()
    bind(auth, admin, user, "admin", "edge")
    headers = bearer(access_token(user))

    own = releases.patch("/releases/applications/edge", json={"path": SKIPS_STAGING}, headers=headers)
    other = releases.patch("/releases/applications/shop", json={"path": SKIPS_STAGING}, headers=headers)

    assert own.status_code == 200
    assert other.status_code == 403


def test_only_members_of_the_approver_team_approve_and_every_approval_counts(auth, releases, admin, developer):
    sre_member = make_user("release_manager")
    make_team(auth, admin, "sre", members=[sre_member])
    path = [{"environment": "dev"}, {"environment": "production", "required_approvals": 1, "approver_team": "sre"}]
    register_application(releases, admin, "edge", path=path)
    release = ready_release(releases, developer, application="edge")
    ship(releases, developer, release["id"], "dev")
    deployment = deploy(releases, developer, release["id"], "production").get_json()
    url = f"/releases/{release['id']}/deployments/{deployment['id']}/approvals"
    _, outsider = as_role("release_manager")

    refused = releases.post(url, json={"decision": "approve"}, headers=outsider)
    refused_admin = releases.post(url, json={"decision": "approve"}, headers=admin)
    approved = releases.post(url, json={"decision": "approve"}, headers=bearer(access_token(sre_member)))

    assert refused.status_code == 403 and refused.get_json()["code"] == "not_an_approver"
    assert refused_admin.status_code == 403
    assert approved.status_code == 201 and approved.get_json()["deployment"]["status"] == "queued"
    assert len(approved.get_json()["deployment"]["approvals"]) == 1  # the refused ones recorded nothing


def test_a_freeze_of_one_application_holds_only_that_application(releases, admin, manager, developer):
    register_application(releases, admin, "edge")
    edge = ready_release(releases, developer, application="edge")
    shop = ready_release(releases, developer, application="shop")
    frozen = releases.post(
        "/releases/freezes",
        json={
            "application": "edge",
            "environment": "dev",
            "starts_at": "2000-01-01T00:00:00Z",
            "ends_at": "2999-01-01T00:00:00Z",
            "reason": "Edge migration",
        },
        headers=manager,
    )
    unknown = releases.post(
        "/releases/freezes",
        json={
            "application": "nope",
            "starts_at": "2000-01-01T00:00:00Z",
            "ends_at": "2999-01-01T00:00:00Z",
            "reason": "r",
        },
        headers=admin,
    )

    assert frozen.status_code == 201
    assert deploy(releases, developer, edge["id"], "dev").get_json()["code"] == "environment_frozen"
    assert deploy(releases, developer, shop["id"], "dev").status_code == 201
    assert unknown.status_code == 422 and unknown.get_json()["code"] == "unknown_application"
    listed = releases.get("/releases/freezes?application=shop", headers=developer).get_json()["items"]
    assert listed == []


def test_a_page_of_applications_costs_the_same_few_statements_whatever_its_size(releases, admin, developer):
    import sqlalchemy as sa

    from shared.platform.db import get_engine

    for index in range(12):
        path = SKIPS_STAGING if index % 2 else None
        register_application(releases, admin, f"app-{index:02d}", path=path)
    releases.get("/releases/applications/app-00", headers=developer)  # caller state cached
    counted: list[str] = []

    def count(*args):
        counted.append(args[2])

    sa.event.listen(get_engine(), "before_cursor_execute", count)
    try:
        releases.get("/releases/applications?limit=2", headers=developer)
        small, counted[:] = len(counted), []
        releases.get("/releases/applications?limit=12", headers=developer)
        large = len(counted)
    finally:
        sa.event.remove(get_engine(), "before_cursor_execute", count)

    assert small == large <= 3  # the page, its stages, the catalogue
