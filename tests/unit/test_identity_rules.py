"""Keyless sign-in rules (shared/identity/trust.py): which service account a verified OIDC token
speaks for, which issuer URLs are admitted, how long an exchanged token lives. No network."""

from datetime import UTC, datetime

import pytest

from shared.identity.trust import (
    TrustEntry,
    exchanged_lifetime,
    match_trust,
    mismatch,
    no_match_reason,
    trust_entry_refusal,
    url_refusal,
)
from shared.platform.settings import ConfigError, load_settings

GOOGLE = "https://accounts.google.com"
GITHUB = "https://token.actions.githubusercontent.com"
CLOUD_BUILD = TrustEntry(
    service_account_id="sa-build",
    issuer=GOOGLE,
    subject="113948692397867021414",
    audience="https://relman.example.com",
    claims={"email": "builder@acme.iam.gserviceaccount.com", "email_verified": True},
)
CHECKOUT_PROD = TrustEntry(
    service_account_id="sa-checkout",
    issuer=GITHUB,
    subject="repo:acme/checkout:environment:production",
    audience="https://github.com/acme",
    claims={"repository": "acme/checkout", "environment": "production"},
)
ENTRIES = [CLOUD_BUILD, CHECKOUT_PROD]


def google_claims(**changes):
    claims = {
        "iss": GOOGLE,
        "aud": "https://relman.example.com",
        "sub": "113948692397867021414",
        "email": "builder@acme.iam.gserviceaccount.com",
        "email_verified": True,
        "azp": "113948692397867021414",
    }
    return {**claims, **changes}


def github_claims(**changes):
    claims = {
        "iss": GITHUB,
        "aud": "https://github.com/acme",
        "sub": "repo:acme/checkout:environment:production",
        "repository": "acme/checkout",
        "repository_owner": "acme",
        "environment": "production",
        "ref": "refs/heads/main",
        "workflow": "deploy",
    }
    return {**claims, **changes}


def test_a_cloud_build_token_matches_its_service_account_only():
    assert match_trust(google_claims(), ENTRIES) == [CLOUD_BUILD]


def test_a_github_token_matches_its_service_account_and_extra_claims_do_not_matter():
    assert match_trust(github_claims(), ENTRIES) == [CHECKOUT_PROD]


def test_every_entry_that_trusts_the_token_is_returned():
    twin = TrustEntry("sa-twin", GITHUB, CHECKOUT_PROD.subject, CHECKOUT_PROD.audience)

    assert match_trust(github_claims(), [*ENTRIES, twin]) == [CHECKOUT_PROD, twin]


def test_aud_may_be_a_list_that_contains_the_audience():
    assert match_trust(google_claims(aud=["other", "https://relman.example.com"]), ENTRIES) == [CLOUD_BUILD]
    assert match_trust(google_claims(aud=["other"]), ENTRIES) == []
    assert match_trust(google_claims(aud="https://relman.example.com/"), ENTRIES) == []


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "accounts.google.com"}, "iss differs"),
        ({"iss": GOOGLE + "/"}, "iss differs"),
        ({"sub": "113948692397867021415"}, "sub differs"),
        ({"sub": 113948692397867021414}, "sub differs"),
        ({"email": "intruder@acme.iam.gserviceaccount.com"}, "claim email differs"),
        ({"email_verified": False}, "claim email_verified differs"),
        ({"email_verified": "true"}, "claim email_verified differs"),
        ({"email_verified": 1}, "claim email_verified differs"),
    ],
)
def test_a_google_token_that_differs_anywhere_matches_nothing_and_says_why(changes, reason):
    claims = google_claims(**changes)

    assert match_trust(claims, ENTRIES) == []
    assert mismatch(claims, CLOUD_BUILD) == reason


def test_a_required_claim_that_is_missing_matches_nothing():
    claims = google_claims()
    del claims["email_verified"]

    assert match_trust(claims, ENTRIES) == []
    assert no_match_reason(claims, ENTRIES) == (
        "no active trust entry matches sub '113948692397867021414' (sa-build: claim email_verified missing)"
    )


def test_subjects_are_exact_with_no_wildcards():
    wildcard = TrustEntry("sa-any", GITHUB, "repo:acme/*", CHECKOUT_PROD.audience)
    other_environment = github_claims(sub="repo:acme/checkout:environment:staging", environment="staging")

    assert match_trust(github_claims(sub="repo:acme/*"), [wildcard]) == [wildcard]  # the literal string only
    assert match_trust(github_claims(), [wildcard]) == []
    assert match_trust(other_environment, ENTRIES) == []


def test_a_token_from_an_issuer_no_entry_names_says_so():
    claims = google_claims(iss="https://evil.example.com")

    assert no_match_reason(claims, ENTRIES) == (
        "no active trust entry matches sub '113948692397867021414' (none for this issuer)"
    )


@pytest.mark.parametrize(
    ("url", "allow_insecure", "refusal"),
    [
        (GOOGLE, False, None),
        ("https://token.actions.githubusercontent.com", False, None),
        ("http://127.0.0.1:8123", True, None),
        ("http://localhost:8123/google", True, None),
        ("http://127.0.0.1:8123", False, "must be an https:// URL"),
        ("http://accounts.google.com", True, "http:// is admitted only for 127.0.0.1 or localhost"),
        ("http://10.0.0.5", True, "http:// is admitted only for 127.0.0.1 or localhost"),
        ("ftp://accounts.google.com", True, "must be an https:// URL"),
        ("file:///etc/passwd", True, "is not an absolute URL"),
        ("accounts.google.com", False, "is not an absolute URL"),
        ("https://user:pw@accounts.google.com", False, "must not carry credentials"),
        ("https://accounts.google.com?x=1", False, "must not carry a query or fragment"),
        ("https://[::1", False, "is not a URL"),
    ],
)
def test_issuers_must_be_https_unless_loopback_is_admitted(url, allow_insecure, refusal):
    assert url_refusal(url, allow_insecure=allow_insecure) == refusal


def test_a_trust_entry_may_not_pin_the_claims_its_own_fields_check():
    good = dict(issuer=GITHUB, subject="repo:a/b:ref:refs/heads/main", audience="x", claims={"repository": "a/b"})

    assert trust_entry_refusal(**good, allow_insecure=False) is None
    assert trust_entry_refusal(**{**good, "claims": {"sub": "y", "exp": 1}}, allow_insecure=False) == (
        "claims must not pin exp, sub (issuer, subject and audience say those)"
    )
    assert trust_entry_refusal(**{**good, "subject": " "}, allow_insecure=False) == "subject must not be empty"
    assert trust_entry_refusal(**{**good, "issuer": "http://127.0.0.1:1"}, allow_insecure=False) == (
        "issuer must be an https:// URL"
    )


NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_an_exchanged_token_lives_one_hour_at_most():
    assert exchanged_lifetime(NOW, NOW.timestamp() + 3600) == 3600
    assert exchanged_lifetime(NOW, NOW.timestamp() + 3600, max_s=900) == 900
    assert exchanged_lifetime(NOW, NOW.timestamp() + 3600, max_s=86_400) == 3600


def test_an_exchanged_token_never_outlives_the_oidc_token_by_more_than_an_hour():
    assert exchanged_lifetime(NOW, NOW.timestamp() - 600) == 3000
    assert exchanged_lifetime(NOW, NOW.timestamp() - 3600) == 0
    assert exchanged_lifetime(NOW, NOW.timestamp() - 7200) == 0


PROD = {"environment": "production", "database_url": "postgresql://u@db/x"}


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_insecure_issuers_are_refused_outside_development_and_test(environment):
    with pytest.raises(ConfigError) as raised:
        load_settings(**{**PROD, "environment": environment}, oidc_allow_insecure_issuers=True)

    assert str(raised.value) == ("invalid setting OIDC_ALLOW_INSECURE_ISSUERS: refused outside development and test")


def test_insecure_issuers_may_be_admitted_in_development_and_test():
    assert load_settings(environment="test", oidc_allow_insecure_issuers=True).oidc_allow_insecure_issuers
    assert load_settings(environment="development", oidc_allow_insecure_issuers=True).oidc_allow_insecure_issuers


def test_the_iap_key_url_must_be_https_unless_loopback_is_admitted():
    assert load_settings(**PROD).iap_jwks_url == "https://www.gstatic.com/iap/verify/public_key-jwk"
    with pytest.raises(ConfigError, match=r"^invalid setting IAP_JWKS_URL: must be an https:// URL$"):
        load_settings(**PROD, iap_jwks_url="http://www.gstatic.com/iap/verify/public_key-jwk")
    with pytest.raises(ConfigError, match=r"^invalid setting IAP_JWKS_URL: must be an https:// URL$"):
        load_settings(environment="test", iap_jwks_url="http://127.0.0.1:9/jwks")
    assert load_settings(environment="test", oidc_allow_insecure_issuers=True, iap_jwks_url="http://127.0.0.1:9/jwks")


def test_the_key_re_fetch_interval_may_be_short_only_in_development_and_test():
    assert load_settings(environment="test", oidc_jwks_refresh_s=0.2).oidc_jwks_refresh_s == 0.2
    assert load_settings(**PROD).oidc_jwks_refresh_s == 60
    with pytest.raises(ConfigError, match=r"^invalid setting OIDC_JWKS_REFRESH_S: at least 1 outside development"):
        load_settings(**PROD, oidc_jwks_refresh_s=0)
