"""The releases function: what runs where, per environment (shared/deployments/overview.py)."""

from tests.factories import deploy, ready_release, ship

# -- overview -------------------------------------------------------------------------------------


def test_overview_shows_live_previous_and_under_way_per_environment(releases, developer):
    v1, v2, v3 = (ready_release(releases, developer, version=v) for v in ("1.0.0", "1.1.0", "1.2.0"))
    ship(releases, developer, v1["id"], "dev")
    ship(releases, developer, v2["id"], "dev")
    deploy(releases, developer, v3["id"], "dev")

    dev = releases.get("/releases/overview?application=shop", headers=developer).get_json()["environments"]["dev"]

    assert dev["live"]["version"] == "1.1.0"
    assert dev["previous"]["version"] == "1.0.0"
    assert dev["in_progress"]["version"] == "1.2.0"


def test_overview_needs_an_application(releases, developer):
    response = releases.get("/releases/overview", headers=developer)

    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "validation_failed"
    assert [e["field"] for e in body["errors"]] == ["application"]
    assert "stages" not in body and "application" not in body  # a problem, not an overview
