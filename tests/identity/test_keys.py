"""Key sets over time (shared/identity/keys.py), with a hand-driven clock and a local issuer
(tests/oidc_issuer.py) standing in for a real one."""

from __future__ import annotations

import pytest
from jwt.algorithms import HMACAlgorithm

from shared.identity.errors import IssuerUnavailable, TokenRefused
from shared.identity.keys import DISCOVERY_TTL_S, JWKS_TTL_S, KeySet


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key_set(issuer, clock, interval=60.0) -> KeySet:
    return KeySet(
        issuer=issuer.url, algorithms=("RS256", "ES256"), refresh_interval_s=interval, allow_insecure=True, clock=clock
    )


def test_known_keys_are_re_read_when_stale_and_discovery_less_often(google):
    clock = Clock()
    keys = key_set(google, clock)
    kid = next(iter(google.keys))

    keys.key(kid)
    clock.now += JWKS_TTL_S - 1
    keys.key(kid)
    assert (google.count("discovery"), google.count("jwks")) == (1, 1)

    clock.now += 2
    keys.key(kid)
    assert (google.count("discovery"), google.count("jwks")) == (1, 2)

    clock.now += DISCOVERY_TTL_S
    keys.key(kid)
    assert (google.count("discovery"), google.count("jwks")) == (2, 3)


def test_stale_keys_are_not_used_when_the_issuer_fails(google):
    clock = Clock()
    keys = key_set(google, clock)
    kid = next(iter(google.keys))
    keys.key(kid)
    google.mode = "error"

    clock.now += JWKS_TTL_S
    with pytest.raises(IssuerUnavailable) as raised:
        keys.key(kid)

    assert raised.value.retry_after == 60
    clock.now += 30
    with pytest.raises(IssuerUnavailable) as raised:
        keys.key(kid)
    assert raised.value.retry_after == 30
    assert google.count("jwks") == 2


def test_after_a_failure_the_issuer_is_discovered_again(google):
    clock = Clock()
    keys = key_set(google, clock)
    kid = next(iter(google.keys))
    keys.key(kid)
    google.mode = "error"
    clock.now += JWKS_TTL_S
    with pytest.raises(IssuerUnavailable):
        keys.key(kid)

    google.mode = "serve"
    clock.now += 60
    assert keys.key(kid).key_id == kid
    assert (google.count("discovery"), google.count("jwks")) == (2, 3)


def test_an_hmac_key_an_issuer_publishes_is_never_used(google):
    google.extra_jwks = [{**HMACAlgorithm.to_jwk(b"k" * 32, as_dict=True), "kid": "shared-secret", "use": "sig"}]
    keys = key_set(google, Clock())

    assert keys.key(next(iter(google.keys))).algorithm_name == "RS256"
    with pytest.raises(TokenRefused) as raised:
        keys.key("shared-secret")
    assert raised.value.reason.startswith("kid 'shared-secret' is not among the keys")
