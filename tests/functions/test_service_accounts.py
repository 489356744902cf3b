"""Service accounts: admins manage them, their trust entries are checked when saved, bindings name them."""

from __future__ import annotations

from tests.factories import bind

GOOGLE = "https://accounts.google.com"
GITHUB = "https://token.actions.githubusercontent.com"
API = "https://relman.example.com"


def trust_entry(**overrides):
    return {
        "issuer": GOOGLE,
        "subject": "113948692397867021414",
        "audience": API,
        "claims": {"email": "builder@acme.iam.gserviceaccount.com", "email_verified": True},
    } | overrides


def make_account(auth, admin, name="checkout-deployer", trust=None):
    body = {"name": name, "display_name": name.title(), "trust": trust if trust is not None else [trust_entry()]}
    response = auth.post("/auth/service-accounts", json=body, headers=admin)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_an_admin_makes_lists_reads_and_renames_a_service_account(auth, admin):
    made = auth.post(
        "/auth/service-accounts",
        json={"name": "checkout-deployer", "display_name": "Checkout", "trust": [trust_entry()]},
        headers=admin,
    )
    account = made.get_json()
    again = auth.post(
        "/auth/service-accounts", json={"name": "checkout-deployer", "display_name": "X", "trust": []}, headers=admin
    )
    one = auth.get(f"/auth/service-accounts/{account['id']}", headers=admin)
    renamed = auth.patch(
        f"/auth/service-accounts/{account['id']}",
        json={"display_name": "Checkout pipeline"},
        headers=admin | {"If-Match": one.headers["ETag"].strip('"')},
    )
    stale = auth.patch(
        f"/auth/service-accounts/{account['id']}", json={"display_name": "Late"}, headers=admin | {"If-Match": '"0"'}
    )

    assert made.status_code == 201 and made.headers["Location"].endswith(f"/auth/service-accounts/{account['id']}")
    assert account["trust"] == [trust_entry()] and account["is_active"] is True
    assert (again.status_code, again.get_json()["code"]) == (409, "service_account_exists")
    assert renamed.status_code == 200 and renamed.get_json()["display_name"] == "Checkout pipeline"
    assert (stale.status_code, stale.get_json()["code"]) == (412, "stale_etag")
    assert [a["name"] for a in auth.get("/auth/service-accounts", headers=admin).get_json()["items"]] == [
        "checkout-deployer"
    ]


def test_only_an_organisation_wide_admin_manages_service_accounts(auth, admin, manager):
    account = make_account(auth, admin)

    assert (
        auth.post(
            "/auth/service-accounts", json={"name": "x", "display_name": "X", "trust": []}, headers=manager
        ).status_code
        == 403
    )
    assert auth.get("/auth/service-accounts", headers=manager).status_code == 403
    assert auth.delete(f"/auth/service-accounts/{account['id']}", headers=manager).status_code == 403


def test_a_trust_entry_that_is_not_admitted_is_refused_and_nothing_is_saved(auth, admin):
    cases = [
        trust_entry(issuer="http://accounts.example.com"),  # not https
        trust_entry(issuer="https://user:pw@accounts.google.com"),  # credentials in the URL
        trust_entry(subject="   "),  # empty subject
        trust_entry(claims={"sub": "x"}),  # pins a reserved claim
    ]
    answers = [
        auth.post("/auth/service-accounts", json={"name": "bad", "display_name": "B", "trust": [case]}, headers=admin)
        for case in cases
    ]
    unknown_field = auth.post(
        "/auth/service-accounts",
        json={"name": "bad", "display_name": "B", "trust": [trust_entry(wildcard=True)]},
        headers=admin,
    )

    assert [(a.status_code, a.get_json()["code"]) for a in answers] == [(422, "invalid_trust_entry")] * 4
    assert answers[0].get_json()["errors"][0]["field"] == "trust[0]"
    assert unknown_field.status_code == 422
    assert auth.get("/auth/service-accounts", headers=admin).get_json()["items"] == []


def test_a_binding_names_a_service_account_that_exists(auth, admin):
    account = make_account(auth, admin)

    bound = bind(auth, admin, account, "developer", application=None, kind="service_account")
    unknown = auth.post(
        "/auth/bindings",
        json={"subject": {"type": "service_account", "id": "00000000-0000-4000-8000-000000000000"}, "role": "viewer"},
        headers=admin,
    )
    listed = auth.get(f"/auth/bindings?subject_type=service_account&subject_id={account['id']}", headers=admin)

    assert bound["subject"] == {"type": "service_account", "id": account["id"]}
    assert (unknown.status_code, unknown.get_json()["code"]) == (422, "unknown_subject")
    assert [b["id"] for b in listed.get_json()["items"]] == [bound["id"]]


def test_deleting_a_service_account_deletes_its_bindings(auth, admin):
    account = make_account(auth, admin)
    bind(auth, admin, account, "developer", kind="service_account")

    deleted = auth.delete(f"/auth/service-accounts/{account['id']}", headers=admin)
    left = auth.get(f"/auth/bindings?subject_type=service_account&subject_id={account['id']}", headers=admin)

    assert deleted.status_code == 204
    assert auth.get(f"/auth/service-accounts/{account['id']}", headers=admin).status_code == 404
    assert left.get_json()["items"] == []
