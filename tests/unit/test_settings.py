"""Settings refuse what would be unsafe or broken, in one line that names the setting."""

import pytest

from shared.platform.settings import DEV_JWT_SECRET, ConfigError, load_settings

PROD = {"environment": "production", "database_url": "postgresql://u@db/x"}


def test_development_runs_on_defaults():
    settings = load_settings(environment="development")

    assert settings.registration_is_open
    assert settings.is_local


def test_placeholder_jwt_secret_is_refused_outside_development():
    with pytest.raises(ConfigError) as raised:
        load_settings(**PROD, jwt_secret=DEV_JWT_SECRET)

    assert str(raised.value) == "invalid setting JWT_SECRET: a placeholder value is refused outside development"


def test_without_a_jwt_secret_only_token_handling_fails_and_names_the_setting():
    settings = load_settings(**PROD)  # what the health function runs with

    with pytest.raises(ConfigError, match=r"^invalid setting JWT_SECRET: required by the functions that sign"):
        settings.signing_key()
    assert load_settings(environment="development").signing_key() == DEV_JWT_SECRET


def test_short_jwt_secret_is_refused():
    with pytest.raises(ConfigError, match="JWT_SECRET: must be at least 32 bytes"):
        load_settings(**PROD, jwt_secret="short-but-not-a-placeholder")


def test_production_needs_a_database(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings(environment="production", jwt_secret="x" * 40)


def test_a_wrong_value_names_the_setting():
    with pytest.raises(ConfigError, match=r"^invalid setting ENVIRONMENT: "):
        load_settings(environment="prod")


def test_registration_is_closed_by_default_in_production():
    assert not load_settings(**PROD, jwt_secret="x" * 40).registration_is_open
    assert load_settings(**PROD, jwt_secret="x" * 40, registration_open=True).registration_is_open


def test_behind_iap_self_registration_is_off_and_cannot_be_turned_on():
    iap = {"iap_audience": "/projects/1/global/backendServices/2"}
    assert not load_settings(**iap).registration_is_open
    with pytest.raises(ConfigError, match="REGISTRATION_OPEN"):
        load_settings(**iap, registration_open=True)


def test_cors_origins_accept_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example.com, https://b.example.com/")

    assert load_settings().cors_origins == ["https://a.example.com", "https://b.example.com"]


def test_pool_follows_the_thread_count(monkeypatch):
    monkeypatch.setenv("THREADS", "8")

    assert load_settings().pool_size == 8
    assert load_settings(db_pool_size=3).pool_size == 3


def test_a_short_jwt_secret_is_refused_even_in_development():
    with pytest.raises(ConfigError, match="JWT_SECRET: must be at least 32 bytes"):
        load_settings(environment="development", jwt_secret="short")


def test_the_audit_key_is_refused_as_a_placeholder_or_short_and_required_outside_development():
    from shared.platform.settings import DEV_AUDIT_KEY

    with pytest.raises(ConfigError, match=r"^invalid setting AUDIT_KEY: a placeholder value is refused"):
        load_settings(**PROD, audit_key=DEV_AUDIT_KEY)
    with pytest.raises(ConfigError, match=r"^invalid setting AUDIT_KEY: must be at least 32 bytes"):
        load_settings(**PROD, audit_key="short-but-not-a-placeholder")
    with pytest.raises(
        ConfigError, match=r"^invalid setting AUDIT_KEY: required by the functions that write or verify"
    ):
        load_settings(**PROD).audit_signing_key()
    assert load_settings(environment="development").audit_signing_key() == DEV_AUDIT_KEY.encode()
    assert load_settings(**PROD, audit_key="k" * 40).audit_signing_key() == b"k" * 40


@pytest.mark.parametrize(
    ("url", "arguments"),
    [
        (
            "postgresql://app:s%40cret@db.internal:6543/releases",
            {"user": "app", "password": "s@cret", "host": "db.internal", "port": 6543, "database": "releases"},
        ),
        ("postgres://app@127.0.0.1/releases", {"user": "app", "host": "127.0.0.1", "database": "releases"}),
        (
            "postgresql+pg8000://postgres@/rm?unix_sock=/tmp/pg/.s.PGSQL.5432",
            {"user": "postgres", "database": "rm", "unix_sock": "/tmp/pg/.s.PGSQL.5432"},
        ),
    ],
)
def test_a_database_url_becomes_the_drivers_connect_arguments(url, arguments):
    from shared.platform.connections import url_arguments

    assert url_arguments(url) == arguments


def test_a_database_url_of_another_kind_is_refused_naming_the_setting():
    from shared.platform.connections import url_arguments

    with pytest.raises(ConfigError, match="DATABASE_URL"):
        url_arguments("mysql://app@db/releases")
