"""Identity-Aware Proxy assertions (`x-goog-iap-jwt-assertion`) verified (shared/identity/oidc.py).

The JWK Set is served by a local issuer (tests/oidc_issuer.py) standing in for
https://www.gstatic.com/iap/verify/public_key-jwk: the code under test is the production path,
with only IAP_JWKS_URL (and OIDC_ALLOW_INSECURE_ISSUERS, to admit http://127.0.0.1) changed.
"""

from __future__ import annotations

import time

import pytest

from shared.identity.errors import IssuerUnavailable, TokenRefused
from shared.identity.oidc import IAP_ISSUER, verify_iap_assertion
from tests.oidc_issuer import LocalIssuer

AUDIENCE = "/projects/123456789/global/backendServices/987654321"
EMAIL = "ada@acme.example.com"
SUB = "accounts.google.com:104893421877459302234"


@pytest.fixture
def iap_settings(iap, make_settings):
    return make_settings(iap_audience=AUDIENCE, iap_jwks_url=iap.jwks_url)


def assertion(iap: LocalIssuer, *, kid: str | None = None, **changes: object) -> str:
    now = int(time.time())
    claims = {"iss": IAP_ISSUER, "aud": AUDIENCE, "sub": SUB, "email": EMAIL, "iat": now, "exp": now + 600}
    claims.update(changes)
    return iap.sign({k: v for k, v in claims.items() if v is not None}, kid=kid)


def refused(token: str, settings) -> str:
    with pytest.raises(TokenRefused) as raised:
        verify_iap_assertion(token, settings=settings)
    assert (raised.value.code, raised.value.detail) == (
        "invalid_token",
        "The Identity-Aware Proxy assertion is not valid.",
    )
    return raised.value.reason


def test_a_valid_assertion_names_the_person(iap, iap_settings):
    identity = verify_iap_assertion(assertion(iap), settings=iap_settings)

    assert (identity.email, identity.subject) == (EMAIL, SUB)
    verify_iap_assertion(assertion(iap), settings=iap_settings)
    assert iap.count("discovery") == 0 and iap.count("jwks") == 1  # the key URL directly, once


def test_an_assertion_for_another_backend_is_refused(iap, iap_settings):
    reason = refused(assertion(iap, aud="/projects/123456789/global/backendServices/1"), iap_settings)

    assert reason.startswith("aud names none of the trusted audiences")


def test_an_assertion_from_another_issuer_is_refused(iap, iap_settings):
    assert "InvalidIssuerError" in refused(assertion(iap, iss="https://accounts.google.com"), iap_settings)


def test_an_expired_assertion_is_refused(iap, iap_settings):
    now = int(time.time())

    assert refused(assertion(iap, iat=now - 1200, exp=now - 600), iap_settings) == "expired"


def test_an_rs256_assertion_is_refused_even_with_a_published_rsa_key(iap, iap_settings):
    rsa_kid = iap.add_key("RS256")

    assert refused(assertion(iap, kid=rsa_kid), iap_settings) == "alg 'RS256' is not admitted (ES256)"
    assert iap.count() == 0


def test_an_assertion_without_an_email_is_refused(iap, iap_settings):
    assert refused(assertion(iap, email=None), iap_settings) == "the assertion names no email"


def test_without_iap_audience_every_assertion_is_refused(iap, make_settings):
    settings = make_settings(iap_jwks_url=iap.jwks_url)

    assert refused(assertion(iap), settings) == "IAP_AUDIENCE is not set: IAP sign-in is off"
    assert iap.count() == 0


def test_an_assertion_signed_by_a_key_iap_does_not_publish_is_refused(iap, iap_settings):
    stranger = iap.add_key("ES256", publish=False)

    assert "is not among the keys" in refused(assertion(iap, kid=stranger), iap_settings)


def test_iap_keys_unreachable_is_unavailable(iap, iap_settings):
    iap.down()

    with pytest.raises(IssuerUnavailable) as raised:
        verify_iap_assertion(assertion(iap), settings=iap_settings)

    assert iap.jwks_url in raised.value.reason
