"""People behind Identity-Aware Proxy: with IAP_AUDIENCE set, the `x-goog-iap-jwt-assertion` header
alone says who is calling. A local issuer serves IAP's JWK Set (tests/oidc_issuer.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from shared.identity.keys import clear_caches
from shared.settings import get_settings
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


def test_a_valid_assertion_is_the_user_with_that_email(auth, iap):
    user = make_user("developer", email="ada@example.com")

    me = auth.get("/auth/me", headers={HEADER: assertion(iap, "Ada@example.com")})

    assert me.status_code == 200
    assert me.get_json()["id"] == str(user["id"]) and me.get_json()["token"] is None


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


def test_a_deactivated_user_behind_iap_is_401(auth, admin, iap):
    user = make_user(email="ada@example.com")
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


def test_a_person_refused_as_unknown_is_let_in_once_their_account_exists(auth, iap):
    refused = auth.get("/auth/me", headers={HEADER: assertion(iap, "late@example.com")})
    user = make_user(email="late@example.com")

    admitted = auth.get("/auth/me", headers={HEADER: assertion(iap, "late@example.com")})

    assert refused.status_code == 401
    assert admitted.status_code == 200 and admitted.get_json()["id"] == str(user["id"])
