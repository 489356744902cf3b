"""Access tokens: only a token we signed, unexpired, for us, of type access, is accepted."""

import base64
import json
from datetime import timedelta

import jwt
import pytest

from shared.auth import tokens
from shared.errors import Unauthorized
from shared.platform.clock import utcnow
from shared.platform.settings import load_settings

SETTINGS = load_settings(environment="test", jwt_secret="k" * 40)


def issued(**overrides):
    token, _ = tokens.issue_access_token(SETTINGS, user_id="u-1", role="developer", auth_version=0, now=utcnow())
    claims = jwt.decode(token, options={"verify_signature": False})
    claims.update(overrides)
    return claims


def sign(claims, key="k" * 40, algorithm="HS256"):
    return jwt.encode(claims, key, algorithm=algorithm)


def rejected(token) -> str:
    with pytest.raises(Unauthorized) as raised:
        tokens.decode_access_token(SETTINGS, token)
    return raised.value.code


def test_a_token_we_issued_decodes_to_its_claims():
    token, expires_in = tokens.issue_access_token(SETTINGS, user_id="u-1", role="admin", auth_version=3, now=utcnow())

    claims = tokens.decode_access_token(SETTINGS, token)

    assert expires_in == 15 * 60
    assert {claims["sub"], claims["role"], claims["type"], claims["ver"]} == {"u-1", "admin", "access", 3}
    assert {"iat", "exp", "jti", "iss", "aud"} <= claims.keys()


def test_alg_none_is_rejected():
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(issued(), default=str).encode()).rstrip(b"=")

    assert rejected(f"{header.decode()}.{payload.decode()}.") == "invalid_token"


def test_a_token_signed_with_another_key_is_rejected():
    assert rejected(sign(issued(), key="another-key-" * 4)) == "invalid_token"


def test_an_expired_token_is_rejected_as_expired():
    past = utcnow() - timedelta(hours=1)
    assert rejected(sign(issued(iat=past - timedelta(minutes=15), exp=past))) == "token_expired"


@pytest.mark.parametrize("claim", ["iss", "aud", "type"])
def test_a_wrong_issuer_audience_or_type_is_rejected(claim):
    assert rejected(sign(issued(**{claim: "something-else"}))) == "invalid_token"


def test_a_token_missing_a_required_claim_is_rejected():
    claims = issued()
    del claims["jti"]

    assert rejected(sign(claims)) == "invalid_token"


def test_a_refresh_token_is_not_an_access_token():
    assert rejected(tokens.new_refresh_token()) == "invalid_token"


def test_a_tampered_payload_breaks_the_signature():
    token, _ = tokens.issue_access_token(SETTINGS, user_id="u-1", role="viewer", auth_version=0, now=utcnow())
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    assert rejected(f"{header}.{forged}.{signature}") == "invalid_token"


def test_api_tokens_have_a_findable_prefix_and_a_secret_stored_only_as_a_hash():
    token, parts = tokens.new_api_token()

    assert token.startswith("rm_") and parts.prefix in token and parts.secret in token
    assert tokens.parse_api_token(token) == parts
    assert tokens.secret_matches(parts.secret, tokens.digest(parts.secret))
    assert not tokens.secret_matches("guess", tokens.digest(parts.secret))


@pytest.mark.parametrize("token", ["rm_", "rm_short_x", "rm_abcdefabcdef", "xx_abcdefabcdef_secret"])
def test_malformed_api_tokens_are_rejected(token):
    with pytest.raises(Unauthorized):
        tokens.parse_api_token(token)


def test_a_remembered_token_still_expires_on_time(monkeypatch):
    import time as time_module

    token, _ = tokens.issue_access_token(SETTINGS, user_id="u-1", role="viewer", auth_version=0, now=utcnow())
    assert tokens.decode_access_token(SETTINGS, token)["sub"] == "u-1"  # verified, and remembered

    later = time_module.time() + 16 * 60
    monkeypatch.setattr(tokens.time, "time", lambda: later)

    assert rejected(token) == "token_expired"


def test_a_remembered_token_is_not_accepted_under_another_key():
    token, _ = tokens.issue_access_token(SETTINGS, user_id="u-1", role="viewer", auth_version=0, now=utcnow())
    tokens.decode_access_token(SETTINGS, token)
    other = load_settings(environment="test", jwt_secret="z" * 40)

    with pytest.raises(Unauthorized):
        tokens.decode_access_token(other, token)


@pytest.mark.parametrize("claim", ["exp", "iat"])
def test_a_numeric_string_time_claim_is_rejected_not_an_error(claim):
    value = int(utcnow().timestamp()) + (600 if claim == "exp" else 0)

    assert rejected(sign(issued(**{claim: str(value)}))) == "invalid_token"


def test_an_expiry_beyond_the_lifetime_we_issue_is_rejected():
    far = utcnow() + timedelta(days=3650)

    assert rejected(sign(issued(exp=far))) == "invalid_token"


def test_an_expiry_within_the_lifetime_and_clock_skew_is_accepted():
    later = utcnow() + timedelta(minutes=15, seconds=30)

    assert tokens.decode_access_token(SETTINGS, sign(issued(exp=later)))["sub"] == "u-1"


def _segment(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("token", "asymmetric"),
    [
        (f"{_segment({'alg': 'RS256', 'kid': 'k'})}.{_segment({'sub': 'x'})}.c2ln", True),
        (f"{_segment({'alg': 'ES256'})}.{_segment({'sub': 'x'})}.c2ln", True),
        # An OIDC header on a payload that is not one: told apart on the whole token, as before.
        (f"{_segment({'alg': 'RS256'})}.!!!.c2ln", False),
        (f"{_segment({'alg': 'HS256', 'typ': 'JWT'})}.!!!.c2ln", False),
        (f"{_segment(['alg', 'RS256'])}.{_segment({})}.c2ln", False),
        ("not-a-jwt", False),
        ("é.é.é", False),
        ("", False),
    ],
)
def test_an_oidc_issuers_token_is_told_from_ours_by_its_header(token, asymmetric):
    assert tokens.signed_asymmetrically(token) is asymmetric
    assert tokens.signed_asymmetrically(token) is asymmetric  # and again, from the remembered header


def test_our_own_tokens_are_not_taken_for_an_oidc_issuers():
    token, _ = tokens.issue_access_token(SETTINGS, user_id="u", role="viewer", auth_version=0, now=utcnow())

    assert tokens.signed_asymmetrically(token) is False
