"""Settings that reference Secret Manager (`sm://...`) are resolved with the real client.

Boundary faked: the Secret Manager API itself (no GCP project or credentials here). The real
`google-cloud-secret-manager` client, on its REST transport with anonymous credentials, talks
HTTP to a local server (tests/google_apis.py) that answers `:access` the way the API does; everything on our side of
the wire is real.
"""

from collections.abc import Iterator

import pytest

from shared.platform.settings import ConfigError, load_settings
from tests.google_apis import GoogleApis

SECRETS = {
    "projects/demo/secrets/jwt-key/versions/latest": "a-jwt-signing-key-that-is-long-enough-0123456789",
    "projects/demo/secrets/short/versions/1": "too-short",
}


@pytest.fixture
def apis() -> Iterator[GoogleApis]:
    """Secret Manager's `:access` (tests/google_apis.py), holding SECRETS."""
    with GoogleApis() as server:
        server.secrets.update(SECRETS)
        yield server


@pytest.fixture
def secret_manager(apis: GoogleApis) -> str:
    return apis.url


def test_sm_reference_is_replaced_by_the_secret_value(apis, secret_manager):
    settings = load_settings(
        environment="production",
        database_url="postgresql://u@db/x",
        secret_manager_endpoint=secret_manager,
        jwt_secret="sm://projects/demo/secrets/jwt-key/versions/latest",
    )

    assert settings.jwt_secret.get_secret_value() == SECRETS["projects/demo/secrets/jwt-key/versions/latest"]
    assert apis.secret_paths == ["/v1/projects/demo/secrets/jwt-key/versions/latest:access"]


def test_a_resolved_secret_must_pass_the_same_checks_as_a_literal(secret_manager):
    with pytest.raises(ConfigError, match="JWT_SECRET: must be at least 32 bytes"):
        load_settings(
            environment="production",
            database_url="postgresql://u@db/x",
            secret_manager_endpoint=secret_manager,
            jwt_secret="sm://projects/demo/secrets/short/versions/1",
        )


def test_a_missing_secret_fails_at_start(secret_manager):
    with pytest.raises(Exception, match="not found"):
        load_settings(
            environment="production",
            database_url="postgresql://u@db/x",
            secret_manager_endpoint=secret_manager,
            jwt_secret="sm://projects/demo/secrets/absent/versions/1",
        )
