"""Keyless sign-in end to end: `POST /auth/exchange` with OIDC tokens from local issuers standing
in for Google (a Cloud Build step's service account) and GitHub Actions, and the access token it
issues, scoped by the service account's bindings.

Only the network boundary is fake (tests/oidc_issuer.py): the code under test runs its production
path, with the issuer URLs in the trust entries and OIDC_ALLOW_INSECURE_ISSUERS=true.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shared.audit.tables import audit_events
from shared.identity.keys import clear_caches
from shared.platform.db import get_engine
from shared.platform.settings import get_settings
from tests.factories import bearer, bind, ready_release, register_application
from tests.oidc_issuer import LocalIssuer

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
API = "https://relman.example.com"
GOOGLE_SUB = "113948692397867021414"
BUILDER = "builder@acme-releases.iam.gserviceaccount.com"
CHECKOUT_PROD = "repo:acme/checkout:environment:production"


@pytest.fixture
def keyless(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings that admit loopback issuers, with a short re-fetch interval; empty key caches."""
    from shared.auth.ratelimit import get_limiter

    monkeypatch.setenv("OIDC_ALLOW_INSECURE_ISSUERS", "true")
    monkeypatch.setenv("OIDC_JWKS_REFRESH_S", "0.2")
    get_settings.cache_clear()
    get_limiter.cache_clear()
    clear_caches()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()
    get_limiter.cache_clear()
    clear_caches()


def _issuer(path: str) -> Iterator[LocalIssuer]:
    issuer = LocalIssuer(path=path).start()
    issuer.add_key("RS256")
    try:
        yield issuer
    finally:
        issuer.down()


@pytest.fixture
def google(keyless: None) -> Iterator[LocalIssuer]:
    yield from _issuer("/google")


@pytest.fixture
def github(keyless: None) -> Iterator[LocalIssuer]:
    yield from _issuer("/github")


def google_entry(google: LocalIssuer) -> dict:
    return {
        "issuer": google.url,
        "subject": GOOGLE_SUB,
        "audience": API,
        "claims": {"email": BUILDER, "email_verified": True},
    }


def google_token(google: LocalIssuer, *, kid: str | None = None, **overrides) -> str:
    claims = {"sub": GOOGLE_SUB, "aud": API, "email": BUILDER, "email_verified": True, "azp": GOOGLE_SUB}
    return google.token(kid=kid, **(claims | overrides))


def service_account(auth, admin, name, trust) -> dict:
    response = auth.post(
        "/auth/service-accounts", json={"name": name, "display_name": name, "trust": trust}, headers=admin
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def exchange(auth, token: str, **extra):
    body = {"grant_type": TOKEN_EXCHANGE, "subject_token": token, "subject_token_type": ID_TOKEN} | extra
    return auth.post("/auth/exchange", json=body)


def audited(action: str) -> list[dict]:
    with get_engine().connect() as conn:
        rows = conn.execute(sa.select(audit_events).where(audit_events.c.action == action).order_by(audit_events.c.seq))
        return [r._asdict() for r in rows]


@pytest.fixture
def deployer(auth, releases, admin, google) -> dict:
    """A service account trusted by the Cloud Build step's Google token, developer on `shop` only."""
    register_application(releases, admin, "shop")
    register_application(releases, admin, "other")
    account = service_account(auth, admin, "shop-deployer", [google_entry(google)])
    bind(auth, admin, account, "developer", application="shop", kind="service_account")
    return account


# -- accepted ---------------------------------------------------------------------------------------


def test_a_google_token_signs_in_as_the_service_account_scoped_by_its_bindings(auth, releases, deployer, google):
    answer = exchange(auth, google_token(google))
    body = answer.get_json()
    headers = bearer(body["access_token"])

    me = auth.get("/auth/me", headers=headers).get_json()
    own = releases.post("/releases", json={"application": "shop", "version": "1.0.0", "title": "t"}, headers=headers)
    foreign = releases.post(
        "/releases", json={"application": "other", "version": "1.0.0", "title": "t"}, headers=headers
    )

    assert answer.status_code == 200
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert body["token_type"] == "bearer" and 3500 < body["expires_in"] <= 3600
    assert me["id"] == deployer["id"] and me["email"] == "shop-deployer@service-accounts"
    assert me["token"]["kind"] == "service_account" and me["token"]["role"] == "developer"
    assert [b["application"] for b in me["bindings"]] == ["shop"]
    assert own.status_code == 201
    assert (foreign.status_code, foreign.get_json()["code"]) == (403, "insufficient_role")
    [event] = audited("service_account.exchanged")
    assert event["data"]["issuer"] == google.url and event["data"]["subject"] == GOOGLE_SUB
    assert event["actor"] == deployer["id"]


def test_a_github_token_signs_in_through_the_form_body_too(auth, releases, admin, github):
    register_application(releases, admin, "checkout")
    entry = {
        "issuer": github.url,
        "subject": CHECKOUT_PROD,
        "audience": "https://github.com/acme",
        "claims": {"repository": "acme/checkout", "environment": "production"},
    }
    account = service_account(auth, admin, "checkout-prod", [entry])
    bind(auth, admin, account, "release_manager", application="checkout", kind="service_account")
    token = github.token(
        sub=CHECKOUT_PROD,
        aud="https://github.com/acme",
        repository="acme/checkout",
        environment="production",
        ref="refs/heads/main",
    )

    answer = auth.post(
        "/auth/exchange",
        data={"grant_type": TOKEN_EXCHANGE, "subject_token": token, "subject_token_type": ID_TOKEN},
    )
    me = auth.get("/auth/me", headers=bearer(answer.get_json()["access_token"])).get_json()

    assert answer.status_code == 200
    assert me["service_account"]["name"] == "checkout-prod" and me["token"]["role"] == "release_manager"


def test_a_token_trusted_by_two_accounts_needs_one_named(auth, admin, google):
    first = service_account(auth, admin, "first", [google_entry(google)])
    service_account(auth, admin, "second", [google_entry(google)])

    unnamed = exchange(auth, google_token(google))
    named = exchange(auth, google_token(google), service_account="second")
    by_id = exchange(auth, google_token(google), service_account=first["id"])
    other = exchange(auth, google_token(google), service_account="third")

    assert (unnamed.status_code, unnamed.get_json()["code"]) == (401, "invalid_grant")
    assert "ambiguous" in audited("service_account.exchange_refused")[0]["data"]["reason"]
    assert named.status_code == 200 and by_id.status_code == 200
    assert other.status_code == 401


# -- refused, all alike -----------------------------------------------------------------------------


def _hs256_with_public_key(google: LocalIssuer) -> str:
    kid = next(iter(google.keys))
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    now = int(time.time())
    claims = {"iss": google.url, "sub": GOOGLE_SUB, "aud": API, "email": BUILDER, "email_verified": True}
    claims |= {"iat": now, "exp": now + 300}

    def part(value: dict) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signing_input = part(header) + b"." + part(claims)
    signature = hmac.new(google.public_pem(kid), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


def _alg_none(google: LocalIssuer) -> str:
    now = int(time.time())
    claims = {"iss": google.url, "sub": GOOGLE_SUB, "aud": API, "email": BUILDER, "email_verified": True}
    claims |= {"iat": now, "exp": now + 300}

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': next(iter(google.keys))})}.{part(claims)}."


REFUSALS = {
    "wrong aud": lambda g, other: google_token(g, aud="https://elsewhere.example.com"),
    "wrong iss": lambda g, other: other.token(sub=GOOGLE_SUB, aud=API, email=BUILDER, email_verified=True),
    "wrong sub": lambda g, other: google_token(g, sub="999"),
    "no email": lambda g, other: g.token(sub=GOOGLE_SUB, aud=API, email_verified=True),
    "unverified email": lambda g, other: google_token(g, email_verified=False),
    "expired": lambda g, other: g.sign(
        {"iss": g.url, "sub": GOOGLE_SUB, "aud": API, "email": BUILDER, "email_verified": True}
        | {"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}
    ),
    "not yet valid": lambda g, other: google_token(g, nbf=int(time.time()) + 600),
    "alg none": lambda g, other: _alg_none(g),
    "HS256 with the public key": lambda g, other: _hs256_with_public_key(g),
    "unknown kid": lambda g, other: g.sign(
        {"iss": g.url, "sub": GOOGLE_SUB, "aud": API, "email": BUILDER, "email_verified": True}
        | {"iat": int(time.time()), "exp": int(time.time()) + 300},
        kid=g.add_key(publish=False),
    ),
}


def test_every_refusal_is_the_same_401_and_is_audited(auth, deployer, google):
    with LocalIssuer(path="/impostor") as impostor:
        impostor.add_key("RS256")
        answers = {name: exchange(auth, make(google, impostor)) for name, make in REFUSALS.items()}

    shapes = {
        name: (a.status_code, a.headers.get("WWW-Authenticate", "")[:6], {k: v for k, v in a.get_json().items()})
        for name, a in answers.items()
    }
    refused = audited("service_account.exchange_refused")

    assert {shape[0] for shape in shapes.values()} == {401}
    assert len({json.dumps(shape[2], sort_keys=True) for shape in shapes.values()}) == 1, shapes
    assert next(iter(shapes.values()))[2]["code"] == "invalid_grant"
    assert len(refused) == len(REFUSALS)
    assert all(event["data"]["reason"] for event in refused)
    assert audited("service_account.exchanged") == []


def test_a_key_rotated_at_the_issuer_is_accepted_after_a_refetch(auth, deployer, google):
    assert exchange(auth, google_token(google)).status_code == 200  # the first key is cached now
    google.rotate()
    time.sleep(0.25)  # past OIDC_JWKS_REFRESH_S

    rotated = exchange(auth, google_token(google))

    assert rotated.status_code == 200
    assert google.count("jwks") == 2


def test_a_flood_of_unknown_kids_costs_the_issuer_one_fetch(auth, deployer, google):
    assert exchange(auth, google_token(google)).status_code == 200
    before = google.count("jwks")

    kids = [google.add_key(publish=False) for _ in range(10)]
    answers = [exchange(auth, google_token(google, kid=kid)).status_code for kid in kids]

    assert set(answers) == {401}
    assert google.count("jwks") - before <= 1


def test_an_issuer_that_is_down_is_503_never_an_acceptance(auth, deployer, google):
    token = google_token(google)
    google.down()

    answer = exchange(auth, token)

    assert answer.status_code == 503 and "Retry-After" in answer.headers
    assert "Traceback" not in answer.get_data(as_text=True)
    assert audited("service_account.exchange_refused")[0]["data"]["unavailable"] is True


def test_a_deactivated_service_account_neither_exchanges_nor_keeps_its_tokens(auth, admin, deployer, google):
    issued = bearer(exchange(auth, google_token(google)).get_json()["access_token"])
    assert auth.get("/auth/me", headers=issued).status_code == 200  # its state is cached now

    off = auth.patch(f"/auth/service-accounts/{deployer['id']}", json={"is_active": False}, headers=admin)
    again = exchange(auth, google_token(google))
    outstanding = auth.get("/auth/me", headers=issued)

    assert off.status_code == 200
    assert (again.status_code, again.get_json()["code"]) == (401, "invalid_grant")
    assert outstanding.status_code == 401


def test_a_deleted_service_accounts_bindings_and_tokens_stop(auth, releases, admin, deployer, google):
    issued = bearer(exchange(auth, google_token(google)).get_json()["access_token"])
    assert auth.get("/auth/me", headers=issued).status_code == 200  # its state is cached now
    of_it = f"/auth/bindings?subject_type=service_account&subject_id={deployer['id']}"
    [binding] = auth.get(of_it, headers=admin).get_json()["items"]

    assert auth.delete(f"/auth/service-accounts/{deployer['id']}", headers=admin).status_code == 204

    assert auth.get(of_it, headers=admin).get_json()["items"] == []
    assert auth.delete(f"/auth/bindings/{binding['id']}", headers=admin).status_code == 404
    me = auth.get("/auth/me", headers=issued)
    release = releases.post(
        "/releases", json={"application": "shop", "version": "9.0.0", "title": "9.0.0"}, headers=issued
    )
    assert (me.status_code, me.get_json()["code"]) == (401, "account_inactive")
    assert (release.status_code, release.get_json()["code"]) == (401, "account_inactive")
    [deleted] = audited("service_account.deleted")
    assert deleted["data"]["bindings_deleted"] == [binding["id"]]


def test_a_service_account_may_not_make_api_tokens(auth, deployer, google):
    issued = bearer(exchange(auth, google_token(google)).get_json()["access_token"])

    made = auth.post("/auth/tokens", json={"name": "long-lived", "role": "developer"}, headers=issued)

    assert (made.status_code, made.get_json()["code"]) == (403, "interactive_login_required")


def test_what_is_not_a_token_exchange_is_400(auth, deployer, google):
    wrong_grant = exchange(auth, google_token(google), grant_type="password")
    wrong_type = exchange(auth, google_token(google), subject_token_type="urn:ietf:params:oauth:token-type:saml2")
    unknown_field = exchange(auth, google_token(google), actor_token="x")

    assert (wrong_grant.status_code, wrong_grant.get_json()["code"]) == (400, "unsupported_grant_type")
    assert (wrong_type.status_code, wrong_type.get_json()["code"]) == (400, "invalid_request")
    assert unknown_field.status_code == 422


def test_exchanges_are_limited_per_address(auth, deployer, google, monkeypatch):
    from shared.auth.ratelimit import get_limiter

    monkeypatch.setenv("EXCHANGE_LIMIT_CLIENT", "2")
    get_settings.cache_clear()
    get_limiter.cache_clear()

    answers = [exchange(auth, google_token(google)) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].get_json()["code"] == "too_many_exchanges" and "Retry-After" in answers[2].headers


def test_an_exchanged_token_works_on_the_releases_function(releases, deployer, auth, google):
    headers = bearer(exchange(auth, google_token(google)).get_json()["access_token"])

    release = ready_release(releases, headers, application="shop", version="2.0.0")

    assert release["created_by"] == deployer["id"]


# -- a service account's own OIDC token as the bearer: Cloud Scheduler dispatching events ------------


def test_the_scheduler_dispatches_events_with_its_own_oidc_token_and_may_do_nothing_else(
    auth, releases, admin, google, monkeypatch
):
    """Cloud Scheduler cannot exchange a token first: it sends its service account's Google-signed
    OIDC token to the dispatch endpoint itself, checked exactly as the exchange checks one."""
    monkeypatch.setenv("EVENTS_DISPATCHER", "scheduler")
    get_settings.cache_clear()
    service_account(auth, admin, "scheduler", [google_entry(google)])
    scheduler = bearer(google_token(google))

    dispatched = releases.post("/releases/events/dispatch", headers=scheduler)
    assert dispatched.status_code == 200, dispatched.get_json()
    assert set(dispatched.get_json()) >= {"delivered", "failed", "pending"}
    # Nothing but dispatching: the raw OIDC token is no credential on any other route, reads included.
    refused = [
        releases.put("/releases/environments/qa", json={"position": 9}, headers=scheduler),
        releases.post("/releases", json={"application": "shop", "version": "1.0.0", "title": "t"}, headers=scheduler),
        releases.get("/releases", headers=scheduler),
        releases.get("/releases/audit", headers=scheduler),
        auth.get("/auth/me", headers=scheduler),
    ]
    assert [(r.status_code, r.get_json()["code"]) for r in refused] == [(401, "oidc_bearer_not_accepted")] * 5


def test_another_service_accounts_oidc_token_may_not_dispatch_and_an_untrusted_one_is_401(
    auth, releases, admin, google, monkeypatch
):
    monkeypatch.setenv("EVENTS_DISPATCHER", "scheduler")
    get_settings.cache_clear()
    service_account(auth, admin, "shop-deployer", [google_entry(google)])

    other = releases.post("/releases/events/dispatch", headers=bearer(google_token(google)))
    untrusted = releases.post("/releases/events/dispatch", headers=bearer(google_token(google, sub="someone-else")))

    assert other.status_code == 401 and other.get_json()["code"] == "oidc_bearer_not_accepted"
    assert releases.get("/releases", headers=bearer(google_token(google))).status_code == 401
    assert untrusted.status_code == 401 and untrusted.get_json()["code"] == "invalid_grant"
    assert audited("service_account.exchange_refused")  # the refusal is on the record, as an exchange's is
