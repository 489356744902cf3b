"""The releases function: the environments on the path to production (shared/deployments/environments.py)."""


# -- environments ---------------------------------------------------------------------------------


def test_the_default_path_is_dev_staging_production(releases, developer):
    items = releases.get("/releases/environments", headers=developer).get_json()["items"]

    assert [(e["name"], e["required_approvals"], e["soak_minutes"]) for e in items] == [
        ("dev", 0, 0),
        ("staging", 0, 0),
        ("production", 1, 0),
    ]


def test_admins_change_an_environment_and_add_one(releases, admin, manager):
    changed = releases.put(
        "/releases/environments/staging",
        json={"position": 2, "required_approvals": 1, "soak_minutes": 30},
        headers=admin,
    )
    added = releases.put("/releases/environments/qa", json={"position": 4}, headers=admin)
    refused = releases.put("/releases/environments/staging", json={"position": 2}, headers=manager)

    assert changed.status_code == 200 and changed.get_json()["soak_minutes"] == 30
    assert added.status_code == 201
    assert refused.status_code == 403


def test_two_environments_cannot_share_a_position(releases, admin):
    response = releases.put("/releases/environments/qa", json={"position": 1}, headers=admin)

    assert response.status_code == 409
    assert response.get_json()["code"] == "position_taken"


def test_a_stale_if_match_on_an_environment_is_412(releases, admin):
    current = releases.get("/releases/environments", headers=admin).get_json()["items"][0]

    stale = releases.put(
        "/releases/environments/dev", json={"position": 1, "soak_minutes": 5}, headers={**admin, "If-Match": '"nope"'}
    )
    fresh = releases.put("/releases/environments/dev", json={"position": 1, "soak_minutes": 5}, headers=admin)

    assert stale.status_code == 412
    assert current["soak_minutes"] == 0 and fresh.get_json()["soak_minutes"] == 5
