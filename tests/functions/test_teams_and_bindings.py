"""Teams and role bindings: who may make them, and that they apply to the caller's very next request."""

from __future__ import annotations

from tests.factories import access_token, as_role, bearer, bind, make_team, make_user


def test_an_admin_makes_a_team_and_its_members_show(auth, admin):
    alice, bob = make_user(), make_user()
    make_team(auth, admin, "payments", members=[alice, bob])

    again = auth.put(f"/auth/teams/payments/members/{alice['id']}", headers=admin)  # idempotent
    taken = auth.post("/auth/teams", json={"name": "payments", "display_name": "P"}, headers=admin)
    team = auth.get("/auth/teams/payments", headers=bearer(access_token(alice))).get_json()

    assert again.status_code == 204
    assert taken.status_code == 409 and taken.get_json()["code"] == "team_exists"
    assert sorted(m["user_id"] for m in team["members"]) == sorted([str(alice["id"]), str(bob["id"])])
    assert [t["name"] for t in auth.get("/auth/teams", headers=admin).get_json()["items"]] == ["payments"]


def test_only_an_organisation_wide_admin_manages_teams(auth, admin, manager):
    make_team(auth, admin, "payments")
    user = make_user()

    assert auth.post("/auth/teams", json={"name": "x", "display_name": "X"}, headers=manager).status_code == 403
    assert auth.put(f"/auth/teams/payments/members/{user['id']}", headers=manager).status_code == 403
    assert auth.put(f"/auth/teams/nope/members/{user['id']}", headers=admin).get_json()["code"] == "team_not_found"


def test_a_binding_names_a_subject_and_a_scope_that_exist(auth, admin):
    user = make_user()

    unknown_user = auth.post(
        "/auth/bindings",
        json={"subject": {"type": "user", "id": "00000000-0000-4000-8000-000000000000"}, "role": "developer"},
        headers=admin,
    )
    unknown_app = auth.post(
        "/auth/bindings",
        json={"subject": {"type": "user", "id": str(user["id"])}, "role": "developer", "application": "nope"},
        headers=admin,
    )
    unknown_env = auth.post(
        "/auth/bindings",
        json={"subject": {"type": "user", "id": str(user["id"])}, "role": "developer", "environments": ["moon"]},
        headers=admin,
    )

    assert (unknown_user.status_code, unknown_user.get_json()["code"]) == (422, "unknown_subject")
    assert (unknown_app.status_code, unknown_app.get_json()["code"]) == (422, "unknown_application")
    assert (unknown_env.status_code, unknown_env.get_json()["code"]) == (422, "unknown_environment")


def test_me_shows_the_callers_bindings_direct_and_through_a_team(auth, admin):
    user = make_user()
    team = make_team(auth, admin, "payments", members=[user])
    direct = bind(auth, admin, user, "release_manager", environments=["production"])
    through = bind(auth, admin, team, "developer", kind="team")

    me = auth.get("/auth/me", headers=bearer(access_token(user))).get_json()

    assert me["teams"] == ["payments"]
    assert [(b["id"], b["team"]) for b in me["bindings"]] == [(direct["id"], None), (through["id"], "payments")]
    assert me["bindings"][0]["environments"] == ["production"]


def test_a_binding_applies_to_the_next_request_and_its_removal_too(auth, admin):
    user = make_user()  # an org-wide viewer
    headers = bearer(access_token(user))
    token_body = {"name": "ci", "role": "developer"}
    assert auth.post("/auth/tokens", json=token_body, headers=headers).status_code == 403  # state now cached

    granted = bind(auth, admin, user, "developer")
    allowed = auth.post("/auth/tokens", json=token_body, headers=headers)
    assert auth.delete(f"/auth/bindings/{granted['id']}", headers=admin).status_code == 204
    refused = auth.post("/auth/tokens", json=token_body, headers=headers)

    assert allowed.status_code == 201
    assert refused.status_code == 403


def test_a_team_membership_applies_to_the_next_request(auth, admin):
    user = make_user()
    team = make_team(auth, admin, "payments")
    bind(auth, admin, team, "developer", kind="team")
    headers = bearer(access_token(user))
    assert auth.get("/auth/me", headers=headers).get_json()["teams"] == []

    auth.put(f"/auth/teams/payments/members/{user['id']}", headers=admin)
    joined = auth.post("/auth/tokens", json={"name": "ci", "role": "developer"}, headers=headers)
    auth.delete(f"/auth/teams/payments/members/{user['id']}", headers=admin)
    left = auth.post("/auth/tokens", json={"name": "ci2", "role": "developer"}, headers=headers)

    assert joined.status_code == 201
    assert left.status_code == 403


def test_an_api_token_caps_every_binding_at_its_role(auth, admin):
    user = make_user("developer")
    bind(auth, admin, user, "admin")
    session = bearer(access_token(user))
    token = auth.post("/auth/tokens", json={"name": "ci", "role": "developer"}, headers=session).get_json()["token"]

    me = auth.get("/auth/me", headers=bearer(token)).get_json()
    made = auth.post("/auth/teams", json={"name": "x", "display_name": "X"}, headers=bearer(token))

    assert [b["role"] for b in me["bindings"]] == ["developer"]
    assert made.status_code == 403


def test_only_an_admin_of_the_scope_may_bind_or_unbind(auth, admin):
    _, developer = as_role("developer")
    user = make_user()

    made = auth.post(
        "/auth/bindings", json={"subject": {"type": "user", "id": str(user["id"])}, "role": "viewer"}, headers=developer
    )
    binding = bind(auth, admin, user, "viewer")
    removed = auth.delete(f"/auth/bindings/{binding['id']}", headers=developer)

    assert made.status_code == 403
    assert removed.status_code == 403
    assert auth.delete(f"/auth/bindings/{binding['id']}", headers=admin).status_code == 204
    assert auth.delete(f"/auth/bindings/{binding['id']}", headers=admin).get_json()["code"] == "binding_not_found"


def test_an_admin_of_one_application_is_no_admin_of_the_organisation(auth, releases, admin):
    from tests.factories import register_application

    register_application(releases, admin, "checkout")
    user = make_user()
    bind(auth, admin, user, "admin", application="checkout")
    headers = bearer(access_token(user))
    other = make_user()

    on_checkout = auth.post(
        "/auth/bindings",
        json={"subject": {"type": "user", "id": str(other["id"])}, "role": "developer", "application": "checkout"},
        headers=headers,
    )
    subject = {"type": "user", "id": str(other["id"])}
    org_wide = auth.post("/auth/bindings", json={"subject": subject, "role": "developer"}, headers=headers)

    assert on_checkout.status_code == 201
    assert org_wide.status_code == 403
    assert auth.get("/auth/users", headers=headers).status_code == 403
    assert releases.get("/releases/audit", headers=headers).status_code == 403
    assert releases.put("/releases/environments/qa", json={"position": 9}, headers=headers).status_code == 403
