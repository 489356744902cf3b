"""The engine factory's Cloud SQL path hands the connector the right arguments.

Boundary faked: the Cloud SQL Admin API and the instance (neither exists here). The real
connector library supplies IPTypes and RefreshStrategy; a recording stand-in replaces only the
Connector object, which would otherwise call the Admin API for certificates.
"""

import pytest
from google.cloud.sql.connector import IPTypes, RefreshStrategy

from shared.platform.db import build_engine
from shared.platform.settings import load_settings


class RecordingConnector:
    def __init__(self, **options):
        self.options = options
        self.connects: list[tuple[tuple, dict]] = []

    def connect(self, *args, **kwargs):
        self.connects.append((args, kwargs))
        raise ConnectionRefusedError("no Cloud SQL here")


def build(**overrides):
    made: list[RecordingConnector] = []

    def factory(**options):
        made.append(RecordingConnector(**options))
        return made[-1]

    settings = load_settings(
        environment="production",
        jwt_secret="k" * 40,
        cloud_sql_instance="proj:europe-west1:release-manager",
        db_user="releases-fn@proj.iam",
        **overrides,
    )
    engine = build_engine(settings, connector_factory=factory)
    return engine, made[0]


def test_iam_auth_over_private_ip_with_lazy_refresh():
    engine, connector = build(db_iam_auth=True)

    assert connector.options == {
        "ip_type": IPTypes.PRIVATE,
        "enable_iam_auth": True,
        "refresh_strategy": RefreshStrategy.LAZY,
    }
    with pytest.raises(ConnectionRefusedError):
        engine.connect()
    args, kwargs = connector.connects[0]
    assert args == ("proj:europe-west1:release-manager", "pg8000")
    assert kwargs == {"user": "releases-fn@proj.iam", "db": "release_manager", "application_name": "release-manager"}


def test_password_auth_passes_the_password():
    engine, connector = build(db_password="pw-from-secret-manager", db_private_ip=False)

    assert connector.options["ip_type"] == IPTypes.PUBLIC
    with pytest.raises(ConnectionRefusedError):
        engine.connect()
    assert connector.connects[0][1]["password"] == "pw-from-secret-manager"


def test_pool_is_sized_for_serverless(services, monkeypatch):
    """One connection per request thread the instance runs (THREADS, which Terraform sets to the
    function's concurrency) plus the overflow, and never more: a checkout past that waits
    `DB_POOL_TIMEOUT_S` and fails, rather than opening connections that terraform/locals.tf's
    budget against max_connections does not count. Against the real PostgreSQL."""
    import sqlalchemy as sa

    monkeypatch.setenv("THREADS", "3")
    settings = load_settings(
        database_url=services["database_url"], app_name="pool-sizing", db_max_overflow=1, db_pool_timeout_s=0.2
    )
    engine = build_engine(settings)
    held = [engine.connect() for _ in range(3 + 1)]
    try:
        with pytest.raises(sa.exc.TimeoutError):
            engine.connect()
        opened = held[0].scalar(sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pool-sizing'"))
    finally:
        for conn in held:
            conn.close()
    kept = engine.pool.checkedin()
    engine.dispose()

    assert opened == 4
    assert kept == 3  # the overflow connection is closed when it comes back; the pool keeps one per thread


def test_the_connector_reaches_postgresql_through_the_admin_api_and_the_server_side_proxy(services, tmp_path):
    """The whole Cloud path, faked only at Google's side of the wire (tests/google_apis.py): the real
    connector gets a token for the key file, the instance's settings and an ephemeral certificate
    from the Admin API stand-in, and speaks TLS 1.3 to the server-side proxy in front of PostgreSQL."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from tests.google_apis import CloudSql

    url = make_url(services["database_url"])
    with CloudSql(tmp_path, upstream=(url.host or "127.0.0.1", url.port or 5432)) as sql:
        environment = sql.environment(db_user=str(url.username), db_name=str(url.database))
        settings = load_settings(
            environment="production",
            jwt_secret="k" * 40,
            cloud_sql_instance=environment["CLOUD_SQL_INSTANCE"],
            cloud_sql_admin_endpoint=environment["CLOUD_SQL_ADMIN_ENDPOINT"],
            db_user=environment["DB_USER"],
            db_name=environment["DB_NAME"],
            db_iam_auth=True,
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("GOOGLE_APPLICATION_CREDENTIALS", environment["GOOGLE_APPLICATION_CREDENTIALS"])
            engine = build_engine(settings)
            with engine.connect() as conn:
                user, database = conn.execute(sa.text("SELECT current_user, current_database()")).one()
            engine.dispose()

    assert (user, database) == (url.username, url.database)
    assert sql.proxy.connections == 1
    assert sql.apis.requests["connectSettings"] == 1 and sql.apis.requests["generateEphemeralCert"] == 1
    # One token for the Admin API, one down-scoped for the IAM database login.
    assert sql.apis.requests["token"] == 2
