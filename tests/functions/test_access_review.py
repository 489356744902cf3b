"""The auth function's access review, `GET /auth/access` (shared/auth/access.py): who may deploy,
approve and override an application in an environment, and through which role, binding or team."""

from __future__ import annotations

from tests.factories import access_token, as_role, bearer, bind, make_team, make_user, register_application
from tests.functions.test_exchange import google, google_entry, keyless, service_account

__all__ = ["google", "keyless"]  # the OIDC issuer stand-in's fixtures, for the service account


def review(auth, headers, application="checkout", environment="production"):
    return auth.get(f"/auth/access?application={application}&environment={environment}", headers=headers)


def test_it_names_each_grant_that_reaches_there_and_what_it_allows(auth, releases, admin, google):
    register_application(releases, admin, "checkout")
    register_application(releases, admin, "search")
    dev = make_user("viewer")
    bind(auth, admin, dev, "developer", application="checkout")
    sre = make_user("viewer")
    bind(auth, admin, make_team(auth, admin, "sre", members=[sre]), "release_manager", application="checkout",
         environments=["production"], kind="team")  # fmt: skip
    elsewhere = make_user("viewer")
    bind(auth, admin, elsewhere, "admin", application="search")
    staging_only = make_user("viewer")
    bind(auth, admin, staging_only, "release_manager", application="checkout", environments=["staging"])
    deployer = service_account(auth, admin, "checkout-ci", [google_entry(google)])
    bind(auth, admin, deployer, "developer", application="checkout", kind="service_account")
    org_admin, _ = as_role("admin")

    answer = review(auth, admin)

    assert answer.status_code == 200, answer.get_json()
    items = {item["name"]: item for item in answer.get_json()["items"]}
    assert items[org_admin["email"]]["may"] == ["deploy", "approve", "override"]
    assert items[org_admin["email"]]["via"][0]["source"] == "organisation"
    assert items[sre["email"]]["role"] == "release_manager" and items[sre["email"]]["may"] == ["deploy", "approve"]
    assert items[sre["email"]]["via"][0] | {"binding_id": None} == {"role": "release_manager",
        "source": "team_binding", "binding_id": None, "team": "sre"}  # fmt: skip
    assert items[dev["email"]]["may"] == ["deploy"] and items[dev["email"]]["via"][0]["source"] == "binding"
    assert items["checkout-ci"]["subject_type"] == "service_account" and items["checkout-ci"]["may"] == ["deploy"]
    assert elsewhere["email"] not in items and staging_only["email"] not in items
    roles_shown = [item["role"] for item in answer.get_json()["items"]]
    assert roles_shown == sorted(roles_shown, key=["developer", "release_manager", "admin"].index, reverse=True)


def test_only_an_organisation_wide_admin_may_read_it(auth, releases, admin):
    register_application(releases, admin, "checkout")
    app_admin = make_user("viewer")
    bind(auth, admin, app_admin, "admin", application="checkout")
    _, manager = as_role("release_manager")
    assert review(auth, manager).status_code == 403
    assert review(auth, bearer(access_token(app_admin))).status_code == 403


def test_an_unknown_application_or_environment_is_said_so(auth, releases, admin):
    register_application(releases, admin, "checkout")

    assert review(auth, admin, application="nope").get_json()["code"] == "application_not_found"
    assert review(auth, admin, environment="moon").get_json()["code"] == "unknown_environment"
    assert review(auth, admin, application="Not A Slug").status_code == 422
