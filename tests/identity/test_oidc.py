"""OIDC tokens from pipelines verified against their issuer (shared/identity/oidc.py).

The issuers are local (tests/oidc_issuer.py) standing in for Google (a Cloud Build step's service
account) and GitHub Actions: the code under test is the production path, with only the issuer
URLs (trust entries) and OIDC_ALLOW_INSECURE_ISSUERS changed. Counting the issuer's requests shows
what the network saw.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid

import pytest

from shared.identity.errors import IssuerUnavailable, TokenRefused
from shared.identity.oidc import verify_oidc_token
from shared.identity.trust import TrustEntry, exchanged_lifetime
from tests.oidc_issuer import LocalIssuer

GOOGLE_SUB = "113948692397867021414"
BUILDER = "builder@acme-releases.iam.gserviceaccount.com"
API = "https://relman.example.com"
CHECKOUT_PROD = "repo:acme/checkout:environment:production"


def cloud_build_entry(google: LocalIssuer, account: str = "sa-build") -> TrustEntry:
    return TrustEntry(account, google.url, GOOGLE_SUB, API, {"email": BUILDER, "email_verified": True})


def checkout_entry(github: LocalIssuer, account: str = "sa-checkout") -> TrustEntry:
    claims = {"repository": "acme/checkout", "environment": "production"}
    return TrustEntry(account, github.url, CHECKOUT_PROD, "https://github.com/acme", claims)


def google_token(google: LocalIssuer, **changes: object) -> str:
    claims: dict[str, object] = {
        "aud": API,
        "azp": GOOGLE_SUB,
        "sub": GOOGLE_SUB,
        "email": BUILDER,
        "email_verified": True,
        **changes,
    }
    return google.token(**{k: v for k, v in claims.items() if v is not None})


def github_token(github: LocalIssuer, **changes: object) -> str:
    claims: dict[str, object] = {
        "aud": "https://github.com/acme",
        "sub": CHECKOUT_PROD,
        "repository": "acme/checkout",
        "repository_owner": "acme",
        "environment": "production",
        "ref": "refs/heads/main",
        "workflow": "deploy",
        "run_id": "8812345678",
        "jti": uuid.uuid4().hex,
        **changes,
    }
    return github.token(**claims)


def refused(token: str, trust: list[TrustEntry], settings) -> str:
    with pytest.raises(TokenRefused) as raised:
        verify_oidc_token(token, trust=trust, settings=settings)
    assert raised.value.code == "invalid_grant"
    assert raised.value.detail == "The token is not trusted."  # one answer, whatever the reason
    return raised.value.reason


def b64(data: bytes | dict) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# -- accepted ------------------------------------------------------------------------------------


def test_a_cloud_build_token_is_accepted_for_its_service_account(google, github, settings):
    trust = [cloud_build_entry(google), checkout_entry(github)]

    verified = verify_oidc_token(google_token(google), trust=trust, settings=settings)

    assert [entry.service_account_id for entry in verified.matches] == ["sa-build"]
    assert (verified.issuer, verified.subject, verified.claims["email"]) == (google.url, GOOGLE_SUB, BUILDER)
    assert google.count("discovery") == 1 and google.count("jwks") == 1
    assert github.count() == 0  # only the token's own issuer is asked


def test_a_github_actions_token_is_accepted_for_its_service_account(google, github, settings):
    trust = [cloud_build_entry(google), checkout_entry(github), checkout_entry(github, "sa-twin")]

    verified = verify_oidc_token(github_token(github), trust=trust, settings=settings)

    assert [entry.service_account_id for entry in verified.matches] == ["sa-checkout", "sa-twin"]
    assert verified.claims["repository"] == "acme/checkout"


def test_an_es256_key_and_a_list_audience_are_accepted(google, settings):
    kid = google.add_key("ES256")

    token = google.sign(
        {
            "iss": google.url,
            "aud": ["other", API],
            "sub": GOOGLE_SUB,
            "email": BUILDER,
            "email_verified": True,
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        kid=kid,
    )

    assert verify_oidc_token(token, trust=[cloud_build_entry(google)], settings=settings).matches


def test_keys_are_cached_between_tokens(google, settings):
    trust = [cloud_build_entry(google)]

    for _ in range(5):
        verify_oidc_token(google_token(google), trust=trust, settings=settings)

    assert (google.count("discovery"), google.count("jwks")) == (1, 1)


def test_the_exchanged_lifetime_comes_from_the_verified_exp(google, settings):
    from datetime import UTC, datetime

    verified = verify_oidc_token(google_token(google), trust=[cloud_build_entry(google)], settings=settings)

    assert exchanged_lifetime(datetime.now(UTC), verified.expires_at, max_s=900) == 900


# -- refused: claims -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"aud": "https://elsewhere.example.com"}, "aud names none of the trusted audiences"),
        ({"sub": "113948692397867021415"}, "(sa-build: sub differs)"),
        ({"email": None}, "(sa-build: claim email missing)"),
        ({"email": "intruder@evil.iam.gserviceaccount.com"}, "(sa-build: claim email differs)"),
        ({"email_verified": False}, "(sa-build: claim email_verified differs)"),
        ({"email_verified": "true"}, "(sa-build: claim email_verified differs)"),
    ],
)
def test_a_google_token_that_differs_from_the_entry_is_refused(google, settings, changes, reason):
    assert reason in refused(google_token(google, **changes), [cloud_build_entry(google)], settings)


def test_a_github_token_from_another_environment_or_repository_is_refused(github, settings):
    staging = github_token(github, sub="repo:acme/checkout:environment:staging", environment="staging")
    fork = github_token(github, repository="evil/checkout")

    assert "(sa-checkout: sub differs)" in refused(staging, [checkout_entry(github)], settings)
    assert "(sa-checkout: claim repository differs)" in refused(fork, [checkout_entry(github)], settings)


def test_an_issuer_no_entry_names_is_refused_without_any_request(google, github, settings):
    reason = refused(github_token(github), [cloud_build_entry(google)], settings)

    assert reason == f"issuer {github.url!r} is named by no active trust entry"
    assert github.count() == 0 and google.count() == 0


def test_a_token_signed_by_one_issuer_claiming_another_is_refused(google, github, settings):
    forged = google.sign({**json.loads(base64.urlsafe_b64decode(github_token(github).split(".")[1] + "==="))})

    reason = refused(forged, [checkout_entry(github)], settings)

    assert "is not among the keys of " + github.url in reason


def test_an_http_issuer_is_refused_without_insecure_issuers_and_without_any_request(google, make_settings):
    settings = make_settings(oidc_allow_insecure_issuers=False)

    reason = refused(google_token(google), [cloud_build_entry(google)], settings)

    assert reason == f"issuer {google.url!r} must be an https:// URL"
    assert google.count() == 0


# -- refused: times --------------------------------------------------------------------------------


def test_an_expired_token_is_refused(google, settings):
    now = int(time.time())

    assert refused(google_token(google, iat=now - 3700, exp=now - 100), [cloud_build_entry(google)], settings) == (
        "expired"
    )


def test_a_token_not_yet_valid_is_refused(google, settings):
    now = int(time.time())
    trust = [cloud_build_entry(google)]

    assert refused(google_token(google, nbf=now + 300), trust, settings).startswith("not yet valid")
    assert refused(google_token(google, iat=now + 300, exp=now + 900), trust, settings).startswith("not yet valid")


def test_a_little_clock_skew_is_admitted(google, settings):
    now = int(time.time())

    token = google_token(google, iat=now + 10, nbf=now + 10, exp=now + 600)

    assert verify_oidc_token(token, trust=[cloud_build_entry(google)], settings=settings).matches


def test_times_that_are_not_numbers_are_refused(google, settings):
    now = int(time.time())

    reason = refused(google_token(google, exp=str(now + 600)), [cloud_build_entry(google)], settings)

    assert "exp" in reason


# -- refused: algorithms and keys ----------------------------------------------------------------


def test_alg_none_is_refused(google, settings):
    kid = next(iter(google.keys))
    now = int(time.time())
    claims = {"iss": google.url, "aud": API, "sub": GOOGLE_SUB, "email": BUILDER, "email_verified": True}
    token = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64({**claims, 'iat': now, 'exp': now + 60})}."

    assert refused(token, [cloud_build_entry(google)], settings) == "alg 'none' is not admitted (RS256, ES256)"


def test_hs256_signed_with_the_issuers_public_key_is_refused(google, settings):
    kid = next(iter(google.keys))
    now = int(time.time())
    claims = {"iss": google.url, "aud": API, "sub": GOOGLE_SUB, "email": BUILDER, "email_verified": True}
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{b64({**claims, 'iat': now, 'exp': now + 60})}"
    signature = hmac.new(google.public_pem(kid), signing_input.encode(), hashlib.sha256).digest()

    reason = refused(f"{signing_input}.{b64(signature)}", [cloud_build_entry(google)], settings)

    assert reason == "alg 'HS256' is not admitted (RS256, ES256)"


def test_a_header_alg_that_differs_from_the_keys_is_refused(google, settings):
    """An RS256 header on a token whose kid names an ES256 key: the key's own algorithm decides."""
    es_kid = google.add_key("ES256")
    good = google_token(google, kid=es_kid)
    _, payload, signature = good.split(".")
    lying = f"{b64({'alg': 'RS256', 'typ': 'JWT', 'kid': es_kid})}.{payload}.{signature}"

    assert "InvalidAlgorithmError" in refused(lying, [cloud_build_entry(google)], settings)


def test_a_tampered_payload_is_refused(google, settings):
    header, payload, signature = google_token(google).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "==="))
    tampered = f"{header}.{b64({**claims, 'email': 'intruder@evil.example.com'})}.{signature}"

    assert "InvalidSignatureError" in refused(tampered, [cloud_build_entry(google)], settings)


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "x" * 20_000])
def test_garbage_is_refused(google, settings, token):
    refused(token, [cloud_build_entry(google)], settings)
    assert google.count() == 0


def test_an_unknown_kid_is_refused_after_one_re_fetch(google, settings):
    trust = [cloud_build_entry(google)]
    verify_oidc_token(google_token(google), trust=trust, settings=settings)
    hidden = google.add_key(publish=False)
    time.sleep(settings.oidc_jwks_refresh_s + 0.05)

    reason = refused(google_token(google, kid=hidden), trust, settings)

    assert reason == f"kid {hidden!r} is not among the keys of {google.url} (just fetched)"
    assert google.count("jwks") == 2


def test_a_rotated_key_is_accepted_after_a_re_fetch_and_the_withdrawn_one_refused(google, settings):
    trust = [cloud_build_entry(google)]
    old = next(iter(google.keys))
    verify_oidc_token(google_token(google), trust=trust, settings=settings)

    new = google.rotate()
    time.sleep(settings.oidc_jwks_refresh_s + 0.05)

    assert verify_oidc_token(google_token(google, kid=new), trust=trust, settings=settings).matches
    assert google.count("jwks") == 2
    assert "is not among the keys" in refused(google_token(google, kid=old), trust, settings)


def test_a_flood_of_unknown_kids_costs_the_issuer_one_request_per_interval(google, make_settings):
    settings = make_settings(oidc_jwks_refresh_s=30)
    trust = [cloud_build_entry(google)]
    hidden = [google.add_key(publish=False, kid=f"made-up-{n}") for n in range(3)]
    tokens = [google_token(google, kid=hidden[n % 3]) for n in range(60)]
    reasons: list[str] = []

    def flood(part: list[str]) -> None:
        for token in part:
            reasons.append(refused(token, trust, settings))

    threads = [threading.Thread(target=flood, args=(tokens[n::6],)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(reasons) == 60 and all("is not among the keys" in reason for reason in reasons)
    assert (google.count("discovery"), google.count("jwks")) == (1, 1)
    # The issuer's real keys still verify, from the cache.
    assert verify_oidc_token(google_token(google), trust=trust, settings=settings).matches
    assert google.count("jwks") == 1


# -- the issuer unreachable or answering garbage -------------------------------------------------


def test_an_issuer_that_is_down_is_unavailable_then_recovers(google, settings):
    trust = [cloud_build_entry(google)]
    google.down()

    with pytest.raises(IssuerUnavailable) as raised:
        verify_oidc_token(google_token(google), trust=trust, settings=settings)

    assert raised.value.code == "service_unavailable" and raised.value.retry_after >= 1
    assert google.url + "/.well-known/openid-configuration" in raised.value.reason
    google.up()
    with pytest.raises(IssuerUnavailable):  # within the interval: no new request
        verify_oidc_token(google_token(google), trust=trust, settings=settings)
    assert google.count() == 0
    time.sleep(settings.oidc_jwks_refresh_s + 0.05)
    assert verify_oidc_token(google_token(google), trust=trust, settings=settings).matches


@pytest.mark.parametrize(
    ("mode", "overrides", "reason"),
    [
        ("garbage", {}, "Expecting value"),
        ("error", {}, "503"),
        ("not_a_jwks", {}, "did not contain any keys"),
        ("serve", {"issuer": "https://accounts.google.com"}, "names issuer 'https://accounts.google.com'"),
        ("serve", {"jwks_uri": "http://keys.example.com/jwks"}, "jwks_uri http:// is admitted only for 127.0.0.1"),
        ("serve", {"jwks_uri": None}, "no jwks_uri"),
    ],
)
def test_an_issuer_answering_garbage_is_unavailable_never_accepted(google, settings, mode, overrides, reason):
    google.mode = mode
    google.discovery_overrides = overrides

    with pytest.raises(IssuerUnavailable) as raised:
        verify_oidc_token(google_token(google), trust=[cloud_build_entry(google)], settings=settings)

    assert reason in raised.value.reason
    asked = google.count()
    with pytest.raises(IssuerUnavailable):
        verify_oidc_token(google_token(google), trust=[cloud_build_entry(google)], settings=settings)
    assert google.count() == asked  # a failed issuer is not asked again within the interval


def test_known_keys_keep_verifying_while_the_issuer_is_down(google, settings):
    trust = [cloud_build_entry(google)]
    verify_oidc_token(google_token(google), trust=trust, settings=settings)
    google.down()
    time.sleep(settings.oidc_jwks_refresh_s + 0.05)

    assert verify_oidc_token(google_token(google), trust=trust, settings=settings).matches
    with pytest.raises(IssuerUnavailable):  # a new kid needs the issuer
        verify_oidc_token(google_token(google, kid=google.add_key(publish=False)), trust=trust, settings=settings)
