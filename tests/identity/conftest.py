"""Keyless sign-in against local issuers (tests/oidc_issuer.py): no database, no cache server.

The local issuers stand in for Google, GitHub Actions and IAP; the code under test is the
production path, with only the URLs changed through settings and trust entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from shared.identity.keys import clear_caches
from shared.platform.settings import Settings, load_settings
from tests.oidc_issuer import LocalIssuer


@pytest.fixture(autouse=True)
def empty_key_caches() -> Iterator[None]:
    """Each test starts with no keys cached (a port may be reused by a later test's issuer)."""
    clear_caches()
    yield
    clear_caches()


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    """Test settings admitting loopback issuers; a short re-fetch interval unless told otherwise."""

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "environment": "test",
            "oidc_allow_insecure_issuers": True,
            "oidc_jwks_refresh_s": 0.2,
        }
        return load_settings(**{**values, **overrides})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def _issuer(path: str, alg: str) -> Iterator[LocalIssuer]:
    issuer = LocalIssuer(path=path).start()
    issuer.add_key(alg)  # type: ignore[arg-type]
    try:
        yield issuer
    finally:
        issuer.down()


@pytest.fixture
def google() -> Iterator[LocalIssuer]:
    """Stands in for https://accounts.google.com (RS256 keys)."""
    yield from _issuer("/google", "RS256")


@pytest.fixture
def github() -> Iterator[LocalIssuer]:
    """Stands in for https://token.actions.githubusercontent.com (RS256 keys)."""
    yield from _issuer("/github", "RS256")


@pytest.fixture
def iap() -> Iterator[LocalIssuer]:
    """Stands in for https://www.gstatic.com/iap/verify/public_key-jwk (ES256 keys, served directly)."""
    yield from _issuer("/iap", "ES256")
