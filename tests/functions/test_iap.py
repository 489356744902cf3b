"""People behind Identity-Aware Proxy: with IAP_AUDIENCE set, the `x-goog-iap-jwt-assertion` header
alone says who is calling. A local issuer serves IAP's JWK Set (tests/oidc_issuer.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shared.auth.tables import users
from shared.identity.keys import clear_caches
from shared.platform.db import get_engine
from shared.platform.settings import get_settings
from tests.factories import access_token, bearer, make_user
from tests.oidc_issuer import LocalIssuer

AUDIENCE = "/projects/123456/global/backendServices/987654"
IAP_ISSUER = "https://cloud.google.com/iap"
HEADER = "x-goog-iap-jwt-assertion"


@pytest.fixture
def iap(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalIssuer]:
    issuer = LocalIssuer(path="/iap").start()
    issuer.add_key("ES256")
    monkeypatch.setenv("OIDC_ALLOW_INSECURE_ISSUERS", "true")
    monkeypatch.setenv("IAP_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("IAP_JWKS_URL", issuer.jwks_url)
    get_settings.cache_clear()
    clear_caches()
    yield issuer
    issuer.down()
    monkeypatch.undo()
    get_settings.cache_clear()
    clear_caches()


def assertion(iap: LocalIssuer, email: str, **overrides) -> str:
    now = int(time.time())
    claims = {"iss": IAP_ISSUER, "aud": AUDIENCE, "sub": "accounts.google.com:1234", "email": email}
    return iap.sign(claims | {"iat": now, "exp": now + 600} | overrides)


def linked_user(auth, admin, role="viewer", email="ada@example.com"):
    """An account an admin made and linked to IAP: the next assertion for its email attaches to it."""
    user = make_user(role, email=email)
    linked = auth.patch(f"/auth/users/{user['id']}", json={"iap_link": True}, headers=admin)
    assert linked.status_code == 200 and linked.get_json()["iap_link_pending"] is True, linked.get_json()
    return user


def test_a_linked_account_is_the_user_with_that_email_and_stays_that_identitys(auth, admin, iap):
    user = linked_user(auth, admin, "developer")

    me = auth.get("/auth/me", headers={HEADER: assertion(iap, "Ada@example.com")})
    other_identity = auth.get(
        "/auth/me", headers={HEADER: assertion(iap, "ada@example.com", sub="accounts.google.com:999")}
    )
    shown = auth.get("/auth/users", headers=admin).get_json()["items"]

    assert me.status_code == 200
    assert me.get_json()["id"] == str(user["id"]) and me.get_json()["token"] is None
    assert (other_identity.status_code, other_identity.get_json()["code"]) == (401, "iap_identity_not_linked")
    ada = next(u for u in shown if u["id"] == str(user["id"]))
    assert ada["iap_subject"] == "accounts.google.com:1234" and ada["iap_link_pending"] is False


def test_a_password_account_is_never_claimed_through_iap_unless_an_admin_links_it(auth, admin, iap, monkeypatch):
    # Registered with a password (before IAP was on, or by an insider, with a colleague's email).
    claimed = make_user("release_manager", email="colleague@example.com")
    monkeypatch.setenv("IAP_AUTO_PROVISION", "true")
    get_settings.cache_clear()

    through_iap = auth.get("/auth/me", headers={HEADER: assertion(iap, "colleague@example.com")})
    register = auth.post(
        "/auth/register", json={"email": "next@example.com", "password": "a long passphrase", "display_name": "N"}
    )

    assert (through_iap.status_code, through_iap.get_json()["code"]) == (401, "iap_identity_not_linked")
    assert (register.status_code, register.get_json()["code"]) == (403, "registration_closed")
    users = auth.get("/auth/users", headers=admin).get_json()["items"]
    assert [u["email"] for u in users if u["email"] != claimed["email"] and u["role"] != "admin"] == []


def test_an_invalid_assertion_is_401_even_beside_a_valid_bearer_token(auth, iap):
    user = make_user("admin", email="ada@example.com")
    valid_bearer = bearer(access_token(user))
    with LocalIssuer(path="/forger") as forger:
        forger.add_key("ES256", kid=next(iter(iap.keys)))  # the same kid, another key
        forged = assertion(forger, "ada@example.com")

    answers = {
        "wrong audience": auth.get(
            "/auth/me", headers=valid_bearer | {HEADER: assertion(iap, "ada@example.com", aud="x")}
        ),
        "forged": auth.get("/auth/me", headers=valid_bearer | {HEADER: forged}),
        "expired": auth.get(
            "/auth/me",
            headers=valid_bearer | {HEADER: assertion(iap, "ada@example.com", iat=1, exp=int(time.time()) - 600)},
        ),
        "garbage": auth.get("/auth/me", headers=valid_bearer | {HEADER: "not-a-jwt"}),
    }

    assert {name: (a.status_code, a.get_json()["code"]) for name, a in answers.items()} == dict.fromkeys(
        answers, (401, "invalid_token")
    )
    assert auth.get("/auth/me", headers=valid_bearer).status_code == 200  # without the header, the bearer decides


def test_an_unknown_email_is_401_unless_auto_provisioning_is_on(auth, iap, monkeypatch):
    refused = auth.get("/auth/me", headers={HEADER: assertion(iap, "new@example.com")})
    monkeypatch.setenv("IAP_AUTO_PROVISION", "true")
    get_settings.cache_clear()

    created = auth.get("/auth/me", headers={HEADER: assertion(iap, "new@example.com")})
    again = auth.get("/auth/me", headers={HEADER: assertion(iap, "new@example.com")})

    assert (refused.status_code, refused.get_json()["code"]) == (401, "unknown_iap_user")
    assert created.status_code == 200
    assert created.get_json()["email"] == "new@example.com" and created.get_json()["role"] == "viewer"
    assert again.get_json()["id"] == created.get_json()["id"]


def test_an_account_iap_provisioned_has_no_password_at_all(auth, iap, monkeypatch):
    monkeypatch.setenv("IAP_AUTO_PROVISION", "true")
    get_settings.cache_clear()
    assert auth.get("/auth/me", headers={HEADER: assertion(iap, "new@example.com")}).status_code == 200

    with get_engine().connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.email == "new@example.com")).one()

    assert row.password_hash is None and row.iap_subject == "accounts.google.com:1234"


def test_a_deactivated_user_behind_iap_is_401(auth, admin, iap):
    user = linked_user(auth, admin)
    assert auth.get("/auth/me", headers={HEADER: assertion(iap, "ada@example.com")}).status_code == 200  # cached

    auth.patch(f"/auth/users/{user['id']}", json={"is_active": False}, headers=admin)
    after = auth.get("/auth/me", headers={HEADER: assertion(iap, "ada@example.com")})

    assert (after.status_code, after.get_json()["code"]) == (401, "account_inactive")


def test_without_iap_audience_the_header_is_ignored(auth, monkeypatch):
    monkeypatch.delenv("IAP_AUDIENCE", raising=False)
    get_settings.cache_clear()
    user = make_user()

    me = auth.get("/auth/me", headers=bearer(access_token(user)) | {HEADER: "anything"})

    assert me.status_code == 200 and me.get_json()["id"] == str(user["id"])


def test_a_person_refused_as_unknown_is_let_in_once_an_admin_links_their_account(auth, admin, iap):
    refused = auth.get("/auth/me", headers={HEADER: assertion(iap, "late@example.com")})
    user = linked_user(auth, admin, email="late@example.com")

    admitted = auth.get("/auth/me", headers={HEADER: assertion(iap, "late@example.com")})

    assert refused.status_code == 401
    assert admitted.status_code == 200 and admitted.get_json()["id"] == str(user["id"])


def test_unlinking_an_account_shuts_its_iap_identity_out(auth, admin, iap):
    user = linked_user(auth, admin)
    assert auth.get("/auth/me", headers={HEADER: assertion(iap, "ada@example.com")}).status_code == 200

    unlinked = auth.patch(f"/auth/users/{user['id']}", json={"iap_link": False}, headers=admin)
    after = auth.get("/auth/me", headers={HEADER: assertion(iap, "ada@example.com")})

    assert unlinked.status_code == 200 and unlinked.get_json()["iap_subject"] is None
    assert (after.status_code, after.get_json()["code"]) == (401, "iap_identity_not_linked")
