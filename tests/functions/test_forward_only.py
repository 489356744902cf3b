"""The releases function: forward-only stages (the `older_than_live` gate). After a severity-1
incident nobody wants an old build to overwrite production by accident: a release older by SemVer
than the one live in an environment deploys there only as a rollback, unless the stage allows it."""

from __future__ import annotations

from tests.factories import deploy, ready_release, register_application, ship


def live_in_dev(releases, developer, *versions, application="shop"):
    made = {}
    for version in versions:
        made[version] = ready_release(releases, developer, application=application, version=version)
        ship(releases, developer, made[version]["id"], "dev")
    return made


def test_an_older_release_than_the_live_one_goes_back_only_as_a_rollback(releases, developer, manager):
    made = live_in_dev(releases, developer, "1.0.0", "1.1.0")

    refused = deploy(releases, developer, made["1.0.0"]["id"], "dev")
    checked = releases.post(
        f"/releases/{made['1.0.0']['id']}/deployments/preflight", json={"environment": "dev"}, headers=developer
    ).get_json()
    rolled_back = releases.post(
        "/releases/rollback",
        json={"application": "shop", "environment": "dev", "reason": "1.1.0 leaks"},
        headers=manager,
    )

    assert refused.status_code == 409 and refused.get_json()["code"] == "older_than_live"
    assert "1.0.0 is older than 1.1.0, live in dev" in refused.get_json()["detail"]
    assert "rollback" in refused.get_json()["detail"]
    assert [b["code"] for b in checked["blocking"]] == ["older_than_live"]
    assert rolled_back.status_code == 201 and rolled_back.get_json()["release_id"] == made["1.0.0"]["id"]


def test_versions_compare_by_semver_not_as_text(releases, developer):
    made = live_in_dev(releases, developer, "1.9.0", "1.10.0")
    candidate = ready_release(releases, developer, version="2.0.0-rc.1")
    final = ready_release(releases, developer, version="2.0.0")

    older_by_number = deploy(releases, developer, made["1.9.0"]["id"], "dev")
    ship(releases, developer, final["id"], "dev")
    older_prerelease = deploy(releases, developer, candidate["id"], "dev")
    same_again = deploy(releases, developer, final["id"], "dev")

    assert older_by_number.get_json()["code"] == "older_than_live"  # 1.9.0 < 1.10.0, though "1.9" > "1.1" as text
    assert older_prerelease.get_json()["code"] == "older_than_live"  # 2.0.0-rc.1 < 2.0.0
    assert same_again.status_code == 201  # the same version again is not going back


def test_a_stage_that_allows_older_releases_deploys_them(releases, admin, developer):
    register_application(releases, admin, "lab", path=[{"environment": "dev", "allow_older": True}])
    made = live_in_dev(releases, developer, "1.0.0", "1.1.0", application="lab")

    again = deploy(releases, developer, made["1.0.0"]["id"], "dev")
    shown = releases.get("/releases/applications/lab", headers=admin).get_json()

    assert again.status_code == 201
    assert shown["path"][0]["allow_older"] is True


def test_only_what_is_live_counts_not_what_failed(releases, developer):
    made = live_in_dev(releases, developer, "1.0.0")
    newer = ready_release(releases, developer, version="2.0.0")
    attempt = deploy(releases, developer, newer["id"], "dev").get_json()
    releases.patch(
        f"/releases/{newer['id']}/deployments/{attempt['id']}", json={"status": "in_progress"}, headers=developer
    )
    releases.patch(f"/releases/{newer['id']}/deployments/{attempt['id']}", json={"status": "failed"}, headers=developer)

    assert deploy(releases, developer, made["1.0.0"]["id"], "dev").status_code == 201  # 2.0.0 never went live
