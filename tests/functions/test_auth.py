"""The auth function, row by row of the contract."""

import logging
import threading

import jwt
import pytest
import sqlalchemy as sa

from shared.audit.tables import audit_events
from shared.auth import passwords
from shared.idempotency import idempotency_keys
from shared.platform.db import get_engine
from shared.platform.settings import get_settings
from tests.factories import PASSWORD, access_token, as_role, bearer, make_user


def register(auth, email="ada@example.com", password=PASSWORD, **extra):
    return auth.post("/auth/register", json={"email": email, "password": password, "display_name": "Ada", **extra})


def login(auth, email, password=PASSWORD, **kwargs):
    return auth.post("/auth/login", json={"email": email, "password": password}, **kwargs)


def audit_actions() -> list[str]:
    with get_engine().connect() as conn:
        return list(conn.scalars(sa.select(audit_events.c.action).order_by(audit_events.c.seq)))


def from_address(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def in_parallel(count: int, request) -> list[int]:
    """Start `count` requests at the same instant; their statuses."""
    statuses: list[int] = []
    barrier = threading.Barrier(count)

    def run():
        barrier.wait()
        statuses.append(request().status_code)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


# -- register -----------------------------------------------------------------------------------


def test_register_creates_a_viewer(auth):
    response = register(auth)

    assert response.status_code == 201
    user = response.get_json()
    assert user["email"] == "ada@example.com"
    assert user["role"] == "viewer"
    assert user["is_active"] is True
    assert user["created_at"].endswith("Z")
    assert "password" not in str(user) and "hash" not in str(user)
    assert audit_actions() == ["user.registered"]


def test_register_refuses_an_email_in_use_whatever_its_case(auth):
    register(auth, email="ada@example.com")

    response = register(auth, email="ADA@Example.com")

    assert response.status_code == 409
    assert response.get_json()["code"] == "email_taken"


@pytest.mark.parametrize(
    ("password", "field"),
    [("short-pw", "password"), ("x" * 129, "password"), ("ada@example.com", "password")],
)
def test_register_enforces_the_password_rules(auth, password, field):
    response = register(auth, password=password)

    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


def test_register_cannot_choose_a_role(auth):
    response = register(auth, role="admin")

    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"field": "role", "message": "unknown field"}]


def test_register_is_closed_when_the_setting_says_so(auth, monkeypatch):
    monkeypatch.setattr(get_settings(), "registration_open", False)

    response = register(auth)

    assert response.status_code == 403
    assert response.get_json()["code"] == "registration_closed"


def test_registering_is_throttled_per_address_with_retry_after(auth, monkeypatch):
    monkeypatch.setattr(get_settings(), "register_limit_client", 3)

    def register_from(address, i):
        body = {"email": f"u{i}@example.com", "password": PASSWORD, "display_name": "U"}
        return auth.post("/auth/register", json=body, **from_address(address))

    for i in range(3):
        assert register_from("10.1.1.1", i).status_code == 201

    refused = register_from("10.1.1.1", 3)

    assert refused.status_code == 429
    assert refused.get_json()["code"] == "too_many_registrations"
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert register_from("10.1.1.2", 3).status_code == 201


# -- login ----------------------------------------------------------------------------------------


def test_login_with_json_returns_a_bearer_pair(auth):
    user = make_user("developer")

    response = login(auth, user["email"].upper())

    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["access_token"] and body["refresh_token"]
    assert response.headers["Cache-Control"] == "no-store"
    me = auth.get("/auth/me", headers=bearer(body["access_token"]))
    assert me.get_json()["id"] == str(user["id"])


def test_login_accepts_the_oauth2_password_form(auth):
    user = make_user()

    response = auth.post(
        "/auth/login", data={"username": user["email"], "password": PASSWORD, "grant_type": "password"}
    )

    assert response.status_code == 200
    assert response.get_json()["token_type"] == "bearer"


def test_wrong_email_and_wrong_password_get_the_same_answer_after_the_same_work(auth, monkeypatch):
    """What makes both take as long: each verifies one Argon2id hash of the same cost. (Timing itself
    is for `make bench`: a timed assertion here would measure the machine's noise.)"""
    user = make_user()
    real = passwords.context()
    costs: list[str] = []  # the `$argon2id$v=19$m=…,t=…,p=…` part of each hash a login verified

    class Recording:
        def __getattr__(self, name):
            method = getattr(real, name)
            if name not in ("verify", "verify_and_update"):
                return method

            def recorded(secret, stored, *args, **kwargs):
                costs.append(stored.rsplit("$", 2)[0])
                return method(secret, stored, *args, **kwargs)

            return recorded

    monkeypatch.setattr(passwords, "context", Recording)
    wrong_password = login(auth, user["email"], "not the password at all")
    by_password, costs[:] = list(costs), []
    wrong_email = login(auth, "nobody@example.com", PASSWORD)

    assert wrong_password.status_code == wrong_email.status_code == 401
    assert wrong_password.get_json() == wrong_email.get_json()
    assert wrong_password.headers["WWW-Authenticate"].startswith("Bearer")
    assert by_password == costs and len(costs) == 1
    assert costs[0].startswith("$argon2id$") and f"m={passwords.ARGON2_MEMORY_KIB}" in costs[0]


def test_a_failed_login_is_audited_although_the_request_fails(auth):
    make_user()
    login(auth, "nobody@example.com", "wrong password!")

    assert audit_actions()[-1] == "auth.login_failed"


def test_a_deactivated_user_cannot_log_in(auth):
    _, admin = as_role("admin")
    user = make_user()
    auth.patch(f"/auth/users/{user['id']}", json={"is_active": False}, headers=admin)

    assert login(auth, user["email"]).status_code == 401


def test_repeated_failures_for_one_account_give_429_with_retry_after(auth):
    user = make_user()
    for _ in range(10):
        assert login(auth, user["email"], "wrong password!").status_code == 401

    response = login(auth, user["email"])  # even the right password, while locked

    assert response.status_code == 429
    assert response.get_json()["code"] == "too_many_login_attempts"
    assert 0 < int(response.headers["Retry-After"]) <= 900


def test_repeated_failures_from_one_address_give_429_across_accounts(auth):
    for i in range(50):
        login(auth, f"user{i}@example.com", "wrong password!")

    response = login(auth, "fresh@example.com", "wrong password!")

    assert response.status_code == 429


def test_a_successful_login_resets_the_accounts_count(auth):
    user = make_user()
    for _ in range(9):
        login(auth, user["email"], "wrong password!")
    assert login(auth, user["email"]).status_code == 200

    for _ in range(9):
        login(auth, user["email"], "wrong password!")

    assert login(auth, user["email"]).status_code == 200


def test_forty_racing_wrong_passwords_are_checked_at_most_ten_times(apps, monkeypatch):
    user = make_user()
    checked: list[int] = []
    real_verify = passwords.verify

    def counting_verify(password, stored_hash):
        checked.append(1)
        return real_verify(password, stored_hash)

    monkeypatch.setattr(passwords, "verify", counting_verify)
    client = apps["auth"].test_client

    statuses = in_parallel(40, lambda: login(client(), user["email"], "wrong password!"))

    assert len(checked) <= 10
    assert statuses.count(429) >= 30 and set(statuses) <= {401, 429}


def test_ten_bad_logins_from_one_address_do_not_lock_the_owner_out_from_theirs(auth):
    user = make_user()
    for _ in range(10):
        assert login(auth, user["email"], "wrong password!", **from_address("10.6.6.6")).status_code == 401
    for _ in range(100):  # refused attempts fill no other count
        assert login(auth, user["email"], **from_address("10.6.6.6")).status_code == 429

    assert login(auth, user["email"], **from_address("10.0.0.7")).status_code == 200


def test_a_bcrypt_hash_is_upgraded_to_argon2id_at_login(auth):
    import bcrypt

    from shared.auth.tables import users

    user = make_user()
    old = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    with get_engine().begin() as conn:
        conn.execute(sa.update(users).where(users.c.id == user["id"]).values(password_hash=old))

    assert login(auth, user["email"]).status_code == 200

    with get_engine().connect() as conn:
        stored = conn.scalar(sa.select(users.c.password_hash).where(users.c.id == user["id"]))
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


# -- refresh and logout ---------------------------------------------------------------------------


def test_refresh_gives_a_new_pair_and_spends_the_old_token(auth):
    user = make_user()
    first = login(auth, user["email"]).get_json()

    second = auth.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})

    assert second.status_code == 200
    assert second.get_json()["refresh_token"] != first["refresh_token"]
    assert auth.get("/auth/me", headers=bearer(second.get_json()["access_token"])).status_code == 200


def test_a_spent_refresh_token_revokes_its_whole_family(auth):
    user = make_user()
    first = login(auth, user["email"]).get_json()
    second = auth.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).get_json()

    reuse = auth.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})

    assert reuse.status_code == 401
    assert reuse.get_json()["code"] == "refresh_token_reused"
    # The descendant is dead too: the thief and the owner both have to log in again.
    after = auth.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401
    assert "auth.refresh_token_reused" in audit_actions()


def test_reuse_in_one_family_leaves_other_logins_alone(auth):
    user = make_user()
    laptop = login(auth, user["email"]).get_json()
    phone = login(auth, user["email"]).get_json()
    auth.post("/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    auth.post("/auth/refresh", json={"refresh_token": laptop["refresh_token"]})

    assert auth.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]}).status_code == 200


def test_two_racing_refreshes_of_one_token_one_wins_the_other_is_reuse(apps):
    user = make_user()
    pair = login(apps["auth"].test_client(), user["email"]).get_json()
    results: list[int] = []
    barrier = threading.Barrier(2)

    def refresh():
        client = apps["auth"].test_client()
        barrier.wait()
        results.append(client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code)

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == [200, 401]


def test_logout_revokes_the_family(auth):
    user = make_user()
    pair = login(auth, user["email"]).get_json()

    assert auth.post("/auth/logout", json={"refresh_token": pair["refresh_token"]}).status_code == 204
    assert auth.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401


def test_an_unknown_refresh_token_is_401(auth):
    response = auth.post("/auth/refresh", json={"refresh_token": "made-up"})

    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_refresh_token"


# -- me and password ------------------------------------------------------------------------------


def test_me_needs_a_token(auth):
    response = auth.get("/auth/me")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_me_shows_the_contract_fields(auth):
    _, headers = as_role("release_manager")

    body = auth.get("/auth/me", headers=headers).get_json()

    assert set(body) >= {"id", "email", "display_name", "role", "is_active", "created_at"}
    assert body["role"] == "release_manager"


def test_changing_the_password_ends_every_session(auth):
    user = make_user()
    pair = login(auth, user["email"]).get_json()
    new_password = "an entirely new passphrase"

    response = auth.post(
        "/auth/me/password",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=bearer(pair["access_token"]),
    )

    assert response.status_code == 204
    assert auth.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401
    assert auth.get("/auth/me", headers=bearer(pair["access_token"])).status_code == 401
    assert login(auth, user["email"]).status_code == 401
    assert login(auth, user["email"], new_password).status_code == 200


def test_changing_the_password_revokes_the_users_api_tokens(auth):
    user = make_user("developer")
    pair = login(auth, user["email"]).get_json()
    token = auth.post(
        "/auth/tokens", json={"name": "ci", "role": "developer"}, headers=bearer(pair["access_token"])
    ).get_json()
    assert auth.get("/auth/me", headers=bearer(token["token"])).status_code == 200  # now cached

    auth.post(
        "/auth/me/password",
        json={"current_password": PASSWORD, "new_password": "an entirely new passphrase"},
        headers=bearer(pair["access_token"]),
    )

    response = auth.get("/auth/me", headers=bearer(token["token"]))
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_revoked"


def test_password_change_attempts_are_throttled_with_retry_after(auth, monkeypatch):
    monkeypatch.setattr(get_settings(), "password_change_limit", 3)
    _, headers = as_role("viewer")
    wrong = {"current_password": "not my password", "new_password": "an entirely new passphrase"}
    for _ in range(3):
        assert auth.post("/auth/me/password", json=wrong, headers=headers).status_code == 403

    refused = auth.post("/auth/me/password", json={**wrong, "current_password": PASSWORD}, headers=headers)

    assert refused.status_code == 429
    assert refused.get_json()["code"] == "too_many_password_changes"
    assert 0 < int(refused.headers["Retry-After"]) <= 900


def test_me_with_an_api_token_shows_what_the_token_may_do(auth):
    owner, session = as_role("admin")
    make_user("admin")
    token = auth.post(
        "/auth/tokens", json={"name": "ci", "role": "developer", "expires_in_days": 7}, headers=session
    ).get_json()

    by_token = auth.get("/auth/me", headers=bearer(token["token"])).get_json()
    by_session = auth.get("/auth/me", headers=session).get_json()

    assert by_token["id"] == str(owner["id"]) and by_token["role"] == "admin"  # the account
    assert by_token["token"] == {"kind": "api_token", "role": "developer", "expires_at": token["expires_at"]}
    assert by_session["token"] is None


def test_me_shows_a_tokens_role_capped_by_its_owners_current_role(auth):
    owner, session = as_role("admin")
    _, other_admin = as_role("admin")
    token = auth.post("/auth/tokens", json={"name": "ci", "role": "admin"}, headers=session).get_json()

    auth.patch(f"/auth/users/{owner['id']}", json={"role": "viewer"}, headers=other_admin)

    assert auth.get("/auth/me", headers=bearer(token["token"])).get_json()["token"]["role"] == "viewer"


@pytest.mark.parametrize(
    "claims",
    [{"exp": "9999999999"}, {"iat": "1700000000"}, {"exp": 4102444800}],
    ids=["string-exp", "string-iat", "exp-in-2100"],
)
def test_an_access_token_with_a_bad_or_endless_expiry_is_401(auth, claims):
    user = make_user()
    issued = jwt.decode(access_token(user), options={"verify_signature": False})
    forged = jwt.encode({**issued, **claims}, get_settings().signing_key(), algorithm="HS256")

    response = auth.get("/auth/me", headers=bearer(forged))

    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_token"


def test_changing_the_password_needs_the_current_one(auth):
    _, headers = as_role("viewer")

    response = auth.post(
        "/auth/me/password", json={"current_password": "wrong!", "new_password": "x" * 20}, headers=headers
    )

    assert response.status_code == 403
    assert response.get_json()["code"] == "wrong_password"


# -- users (admin) --------------------------------------------------------------------------------


def test_only_admins_list_users(auth):
    _, admin = as_role("admin")
    _, manager = as_role("release_manager")

    assert auth.get("/auth/users", headers=manager).status_code == 403
    listed = auth.get("/auth/users", headers=admin)
    assert listed.status_code == 200
    assert len(listed.get_json()["items"]) == 2


def test_users_are_listed_a_page_at_a_time_with_a_next_link(auth):
    _, admin = as_role("admin")
    for _ in range(4):
        make_user()

    first = auth.get("/auth/users?limit=3", headers=admin)
    cursor = first.get_json()["next_cursor"]
    second = auth.get(f"/auth/users?limit=3&cursor={cursor}", headers=admin)

    assert len(first.get_json()["items"]) == 3
    assert 'rel="next"' in first.headers["Link"] and "cursor=" in first.headers["Link"]
    assert len(second.get_json()["items"]) == 2
    assert second.get_json()["next_cursor"] is None
    ids = [u["id"] for u in first.get_json()["items"] + second.get_json()["items"]]
    assert len(set(ids)) == 5


@pytest.mark.parametrize("limit", ["0", "101", "many"])
def test_list_limits_outside_1_to_100_are_422(auth, limit):
    _, admin = as_role("admin")

    assert auth.get(f"/auth/users?limit={limit}", headers=admin).status_code == 422


def test_a_role_change_applies_to_the_very_next_request(auth):
    _, admin = as_role("admin")
    user = make_user("viewer")
    headers = bearer(access_token(user))
    assert auth.post("/auth/tokens", json={"name": "ci", "role": "viewer"}, headers=headers).status_code == 403

    changed = auth.patch(f"/auth/users/{user['id']}", json={"role": "developer"}, headers=admin)

    assert changed.status_code == 200 and changed.get_json()["role"] == "developer"
    assert auth.post("/auth/tokens", json={"name": "ci", "role": "viewer"}, headers=headers).status_code == 201
    assert "user.role_changed" in audit_actions()


def test_a_deactivated_users_tokens_stop_at_once(auth):
    _, admin = as_role("admin")
    user = make_user("developer")
    headers = bearer(access_token(user))
    api_token = auth.post("/auth/tokens", json={"name": "ci", "role": "developer"}, headers=headers).get_json()
    assert auth.get("/auth/me", headers=headers).status_code == 200

    auth.patch(f"/auth/users/{user['id']}", json={"is_active": False}, headers=admin)

    assert auth.get("/auth/me", headers=headers).status_code == 401
    assert auth.get("/auth/me", headers=bearer(api_token["token"])).status_code == 401
    assert "user.deactivated" in audit_actions()


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(auth):
    admin_user, admin = as_role("admin")

    demote = auth.patch(f"/auth/users/{admin_user['id']}", json={"role": "developer"}, headers=admin)
    deactivate = auth.patch(f"/auth/users/{admin_user['id']}", json={"is_active": False}, headers=admin)

    assert demote.status_code == deactivate.status_code == 409
    assert demote.get_json()["code"] == "last_admin"


def test_an_admin_can_step_down_once_another_admin_exists(auth):
    first, first_headers = as_role("admin")
    make_user("admin")

    response = auth.patch(f"/auth/users/{first['id']}", json={"role": "developer"}, headers=first_headers)

    assert response.status_code == 200


def test_patching_an_unknown_user_is_404(auth):
    _, admin = as_role("admin")

    assert auth.patch("/auth/users/00000000-0000-0000-0000-000000000000", json={}, headers=admin).status_code == 404


# -- API tokens -----------------------------------------------------------------------------------


def test_a_developer_makes_an_api_token_shown_once_and_usable_everywhere(apps, auth):
    _, developer = as_role("developer")

    created = auth.post(
        "/auth/tokens", json={"name": "ci-deployer", "role": "developer", "expires_in_days": 30}, headers=developer
    )

    assert created.status_code == 201
    token = created.get_json()
    assert set(token) >= {"id", "name", "role", "token", "prefix", "expires_at"}
    assert token["token"].startswith(token["prefix"] + "_")
    assert auth.get("/auth/me", headers=bearer(token["token"])).status_code == 200
    assert apps["health"].test_client().get("/health").status_code == 200
    listed = auth.get("/auth/tokens", headers=developer).get_json()["items"]
    assert [t["id"] for t in listed] == [token["id"]]
    assert "token" not in listed[0] and "token_hash" not in listed[0]
    with get_engine().connect() as conn:
        stored = conn.execute(sa.text("SELECT token_hash FROM api_tokens")).scalar_one()
    assert token["token"] not in stored and token["token"].split("_", 2)[2] not in stored


def test_an_api_token_cannot_make_api_tokens(auth):
    _, developer = as_role("developer")
    parent = auth.post(
        "/auth/tokens", json={"name": "ci", "role": "developer", "expires_in_days": 1}, headers=developer
    ).get_json()

    child = auth.post(
        "/auth/tokens",
        json={"name": "forever", "role": "developer", "expires_in_days": 365},
        headers=bearer(parent["token"]),
    )

    assert child.status_code == 403
    assert child.get_json()["code"] == "interactive_login_required"
    assert len(auth.get("/auth/tokens", headers=developer).get_json()["items"]) == 1


def test_replaying_a_token_creation_never_shows_the_secret_again_nor_stores_it(auth):
    _, developer = as_role("developer")
    headers = {**developer, "Idempotency-Key": "make-ci-token"}
    body = {"name": "ci", "role": "developer"}
    first = auth.post("/auth/tokens", json=body, headers=headers)

    replay = auth.post("/auth/tokens", json=body, headers=headers)

    secret = first.get_json()["token"]
    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    replayed = replay.get_json()
    assert replayed["token"] is None and "Idempotency-Key" in replayed["note"]
    assert {k: v for k, v in replayed.items() if k not in ("token", "note")} == {
        k: v for k, v in first.get_json().items() if k != "token"
    }
    assert replay.headers["ETag"] != first.headers["ETag"]
    with get_engine().connect() as conn:
        stored = [str(row._asdict()) for row in conn.execute(sa.select(idempotency_keys))]
    assert len(stored) == 1
    assert secret not in stored[0] and secret.split("_", 2)[2] not in stored[0]
    assert len(auth.get("/auth/tokens", headers=developer).get_json()["items"]) == 1


def test_the_openapi_document_shows_the_me_token_and_the_withheld_secret(auth):
    schemas = auth.get("/auth/openapi.json").get_json()["components"]["schemas"]

    assert "token" in schemas["MeOut"]["properties"]
    assert {"kind", "role", "expires_at"} <= set(schemas["CredentialOut"]["properties"])
    assert "Idempotency-Key" in str(schemas["ApiTokenCreatedOut"]["properties"]["token"])
    assert "note" in schemas["ApiTokenCreatedOut"]["properties"]


def test_a_token_role_may_not_exceed_the_callers(auth):
    _, developer = as_role("developer")

    response = auth.post("/auth/tokens", json={"name": "x", "role": "admin"}, headers=developer)

    assert response.status_code == 403
    assert response.get_json()["code"] == "role_too_high"


def test_viewers_cannot_make_tokens(auth):
    _, viewer = as_role("viewer")

    assert auth.post("/auth/tokens", json={"name": "x", "role": "viewer"}, headers=viewer).status_code == 403


def test_a_revoked_token_stops_working_at_once(auth):
    _, developer = as_role("developer")
    token = auth.post("/auth/tokens", json={"name": "x", "role": "developer"}, headers=developer).get_json()
    assert auth.get("/auth/me", headers=bearer(token["token"])).status_code == 200  # now cached

    assert auth.delete(f"/auth/tokens/{token['id']}", headers=developer).status_code == 204

    response = auth.get("/auth/me", headers=bearer(token["token"]))
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_revoked"


def test_only_the_owner_or_an_admin_revokes_a_token(auth):
    _, owner = as_role("developer")
    _, other = as_role("developer")
    _, admin = as_role("admin")
    token = auth.post("/auth/tokens", json={"name": "x", "role": "developer"}, headers=owner).get_json()

    assert auth.delete(f"/auth/tokens/{token['id']}", headers=other).status_code == 404
    assert len(auth.get("/auth/tokens", headers=admin).get_json()["items"]) == 1
    assert auth.delete(f"/auth/tokens/{token['id']}", headers=admin).status_code == 204


def test_an_expired_api_token_is_rejected(auth):
    from shared.auth.tables import api_tokens

    _, developer = as_role("developer")
    token = auth.post("/auth/tokens", json={"name": "x", "role": "developer"}, headers=developer).get_json()
    with get_engine().begin() as conn:
        conn.execute(sa.update(api_tokens).values(expires_at=sa.func.now() - sa.text("interval '1 minute'")))

    response = auth.get("/auth/me", headers=bearer(token["token"]))

    assert response.status_code == 401
    assert response.get_json()["code"] == "token_expired"


def test_a_token_acts_with_no_more_than_its_owners_current_role(auth):
    owner_user, owner = as_role("admin")
    make_user("admin")
    token = auth.post("/auth/tokens", json={"name": "x", "role": "admin"}, headers=owner).get_json()
    assert auth.get("/auth/users", headers=bearer(token["token"])).status_code == 200

    _, other_admin = as_role("admin")
    auth.patch(f"/auth/users/{owner_user['id']}", json={"role": "developer"}, headers=other_admin)

    assert auth.get("/auth/users", headers=bearer(token["token"])).status_code == 403


def test_api_token_use_records_last_used_at(auth):
    _, developer = as_role("developer")
    token = auth.post("/auth/tokens", json={"name": "x", "role": "developer"}, headers=developer).get_json()

    auth.get("/auth/me", headers=bearer(token["token"]))

    listed = auth.get("/auth/tokens", headers=developer).get_json()["items"][0]
    assert listed["last_used_at"] is not None


def test_token_creation_and_revocation_are_audited(auth):
    _, developer = as_role("developer")
    token = auth.post("/auth/tokens", json={"name": "x", "role": "developer"}, headers=developer).get_json()
    auth.delete(f"/auth/tokens/{token['id']}", headers=developer)

    assert audit_actions()[-2:] == ["api_token.created", "api_token.revoked"]


# -- secrets never reach the logs -----------------------------------------------------------------


def test_no_password_hash_or_token_secret_is_ever_logged(auth, caplog):
    from shared.platform.logs import CloudJsonFormatter

    with caplog.at_level(logging.DEBUG):
        registered = register(auth, email="secretive@example.com")
        pair = login(auth, "secretive@example.com").get_json()
        login(auth, "secretive@example.com", "wrong-password-123")
        headers = bearer(pair["access_token"])
        auth.patch(f"/auth/users/{registered.get_json()['id']}", json={"role": "admin"}, headers=headers)
        refreshed = auth.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).get_json()
        auth.post("/auth/me/password", json={"current_password": PASSWORD, "new_password": "n" * 16}, headers=headers)

    logged = "\n".join(CloudJsonFormatter().format(r) for r in caplog.records)
    with get_engine().connect() as conn:
        hashes = list(conn.scalars(sa.text("SELECT password_hash FROM users")))
    for secret in [
        PASSWORD,
        "wrong-password-123",
        "n" * 16,
        pair["access_token"],
        pair["refresh_token"],
        refreshed["refresh_token"],
        *hashes,
    ]:
        assert secret not in logged


def test_user_changes_honour_if_match(auth):
    _, admin = as_role("admin")
    user = make_user()
    listed = auth.get("/auth/users", headers=admin).get_json()["items"]
    current = next(u for u in listed if u["id"] == str(user["id"]))
    from shared.etags import etag

    stale = auth.patch(f"/auth/users/{user['id']}", json={"role": "developer"}, headers={**admin, "If-Match": '"old"'})
    fresh = auth.patch(
        f"/auth/users/{user['id']}", json={"role": "developer"}, headers={**admin, "If-Match": f'"{etag(current)}"'}
    )

    assert stale.status_code == 412
    assert fresh.status_code == 200 and fresh.get_json()["role"] == "developer"


def test_login_refuses_unknown_json_fields_but_takes_the_oauth2_form_extras(auth):
    user = make_user()

    unknown = auth.post("/auth/login", json={"email": user["email"], "password": PASSWORD, "remember_me": True})
    oauth2 = auth.post(
        "/auth/login",
        data={
            "username": user["email"],
            "password": PASSWORD,
            "grant_type": "password",
            "scope": "",
            "client_id": "cli",
        },
    )

    assert unknown.status_code == 422
    assert unknown.get_json()["errors"] == [{"field": "remember_me", "message": "unknown field"}]
    assert oauth2.status_code == 200
