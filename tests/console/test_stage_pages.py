"""The console's application and deployment pages over HTTP: promote and roll back with the API's
gates, and a deployment's approvals, timeline and what holds its start (shared/console/stages.py)."""

from __future__ import annotations

import re

from tests.console.test_pages import csrf_of, sign_in
from tests.factories import access_token, bearer, deploy, freeze_now, make_user, ready_release, ship


def live_in_dev(releases, version="1.0.0"):
    headers = bearer(access_token(make_user("developer")))
    release = ready_release(releases, headers, application="shop", version=version)
    ship(releases, headers, release["id"], "dev")
    return release, headers


def test_a_developer_promotes_what_is_live_in_the_stage_before(console, releases):
    release, _headers = live_in_dev(releases)
    developer = make_user("developer")
    sign_in(console, developer)

    page = console.get("/console/applications/shop").get_data(as_text=True)
    answer = console.post(
        "/console/applications/shop/promote",
        data={
            "csrf": csrf_of(console, "/console/applications/shop"),
            "environment": "staging",
            "release_id": release["id"],
        },
    )

    assert re.search(r"<button type=\"submit\" >Promote 1.0.0 to staging</button>", page)
    assert answer.status_code == 303 and "/console/deployments/" in answer.headers["Location"]
    made = console.get(answer.headers["Location"]).get_data(as_text=True)
    assert "shop 1.0.0</a> to staging" in made and "deploy, queued" in made
    assert "deployment.requested" in made  # its timeline, from the audit log


def test_a_viewer_sees_promote_and_roll_back_disabled_with_the_reason(console, releases):
    live_in_dev(releases)
    sign_in(console, make_user("viewer"))

    page = console.get("/console/applications/shop").get_data(as_text=True)

    assert "Promote 1.0.0 to staging</button>" in page and "insufficient_role" in page
    assert "no_rollback_target" in page  # dev has had one release only


def test_a_gate_that_would_refuse_the_promotion_disables_it_with_its_code(console, releases):
    live_in_dev(releases)
    freeze_now(releases, bearer(access_token(make_user("release_manager"))), environment="staging")
    sign_in(console, make_user("developer"))

    page = console.get("/console/applications/shop").get_data(as_text=True)

    assert "environment_frozen" in page and "Launch day" in page
    assert '<div class="banner" role="note">frozen: Launch day</div>' in page  # on the stage itself


def test_a_waiting_deployment_says_what_it_still_needs_from_whom_and_what_would_hold_it(console, releases):
    release, headers = live_in_dev(releases)
    ship(releases, headers, release["id"], "staging")
    waiting = deploy(releases, headers, release["id"], "production").get_json()
    freeze_now(releases, bearer(access_token(make_user("release_manager"))), environment="production")
    sign_in(console, make_user("release_manager"))

    page = console.get(f"/console/deployments/{release['id']}/{waiting['id']}").get_data(as_text=True)

    assert "Still needed: 1 from any approver; from release managers of shop in production." in page
    assert "environment_frozen" in page
    assert 'value="approve" >Approve' in page or 'value="approve">Approve' in page


def test_the_approval_page_says_what_approving_brings_against_what_is_live(console, releases):
    first, headers = live_in_dev(releases, "1.0.0")
    ship(releases, headers, first["id"], "staging")
    ship(releases, headers, first["id"], "production", approver=bearer(access_token(make_user("release_manager"))))
    for version in ("1.1.0", "1.2.0"):
        newer = ready_release(releases, headers, application="shop", version=version, title=f"Shop {version}")
        ship(releases, headers, newer["id"], "dev")
    ship(releases, headers, newer["id"], "staging")
    waiting = deploy(releases, headers, newer["id"], "production").get_json()
    sign_in(console, make_user("release_manager"))

    page = console.get(f"/console/deployments/{newer['id']}/{waiting['id']}").get_data(as_text=True)

    assert "From 1.0.0, live there now, it brings 2 releases:" in page
    assert "<li>1.2.0: Shop 1.2.0</li><li>1.1.0: Shop 1.1.0</li>" in page


def test_roll_back_needs_a_reason_and_goes_back_to_the_release_before(console, releases):
    _first, headers = live_in_dev(releases, "1.0.0")
    second = ready_release(releases, headers, application="shop", version="1.1.0")
    ship(releases, headers, second["id"], "dev")
    sign_in(console, make_user("release_manager"))
    csrf = csrf_of(console, "/console/applications/shop")

    empty = console.post(
        "/console/applications/shop/rollback", data={"csrf": csrf, "environment": "dev", "reason": " "}
    )
    done = console.post(
        "/console/applications/shop/rollback", data={"csrf": csrf, "environment": "dev", "reason": "5xx up"}
    )

    assert empty.status_code == 422
    assert done.status_code == 303
    assert "shop 1.0.0</a> to dev" in console.get(done.headers["Location"]).get_data(as_text=True)


def test_the_metrics_page_charts_deploys_per_day_and_shows_admins_the_audit_log(console, releases):
    release, headers = live_in_dev(releases)
    ship(releases, headers, release["id"], "staging")
    sign_in(console, make_user("developer"))
    as_developer = console.get("/console/metrics?environment=staging&days=7").get_data(as_text=True)
    console.post("/console/logout", data={"csrf": csrf_of(console, "/console/metrics")})
    admin = make_user("admin")
    sign_in(console, admin)
    before = console.get("/console/metrics?environment=staging&days=7").get_data(as_text=True)
    verify = releases.get("/releases/audit/verify", headers=bearer(access_token(admin))).get_json()
    assert verify["ok"] is True
    ship(releases, headers, release["id"], "production", approver=bearer(access_token(make_user("release_manager"))))
    as_admin = console.get("/console/metrics?environment=staging&days=7").get_data(as_text=True)

    assert "1.00 a day" not in as_developer and "0.14 a day (1 deploys)" in as_developer
    assert as_developer.count("<rect ") == 1 and "1 deploys, 0 failures" in as_developer  # one day has a bar
    assert "The audit log" not in as_developer
    assert "The audit log" in as_admin and "deployment.requested" in as_admin
    # How far the chain was last verified, from the verify's MAC-checked anchor, and what came after.
    assert "No verify of the chain has succeeded yet." in before
    verified = "verified <strong>ok</strong> on "
    assert verified in as_admin and f"through event {verify['last_checkpoint']['seq']};" in as_admin
    assert re.search(r"; [1-9]\d* events appended since are checked by the next verify", as_admin)


def test_the_timeline_page_shows_what_changed_newest_first_with_its_filters(console, releases):
    live_in_dev(releases)
    freeze_now(releases, bearer(access_token(make_user("release_manager"))), "production")
    sign_in(console, make_user("viewer"))

    everything = console.get("/console/timeline").get_data(as_text=True)
    production = console.get("/console/timeline?environment=production").get_data(as_text=True)
    window = console.get("/console/timeline?from=2020-01-01T00:00&to=2020-01-02T00:00").get_data(as_text=True)
    bad = console.get("/console/timeline?from=2020-01-02T00:00&to=2020-01-01T00:00")

    kinds = re.findall(r'<tr data-kind="(\w+)">', everything)
    assert kinds[0] == "freeze" and "deployment" in kinds
    assert "deployment: status changed → succeeded" in everything and ">1.0.0</a>" in everything
    assert re.findall(r'<tr data-kind="(\w+)">', production) == ["freeze"]
    assert "Nothing changed then." in window
    assert bad.status_code == 422
