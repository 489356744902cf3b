"""Opening one PostgreSQL connection (a pg8000 DB-API connection), as settings say.

Three ways to reach PostgreSQL, chosen by settings alone:
- CLOUD_SQL_INSTANCE: the Cloud SQL Python Connector (pg8000, lazy refresh, private IP, IAM auth);
- DATABASE_URL: a PostgreSQL URL (tests, CI, a local server);
- neither, in development: the embedded PostgreSQL of `shared.local`.

`shared.platform.db`'s pool opens its connections here, and so does the health check, which holds one
connection of its own and never imports SQLAlchemy (a third of the health function's cold start).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from shared.platform.settings import ConfigError, Settings

Connect = Callable[[], Any]
_SCHEMES = ("postgresql", "postgres", "postgresql+pg8000")


def database_url(settings: Settings) -> str:
    """The URL for a non-Cloud-SQL setup: DATABASE_URL, else the embedded server in development."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from shared.local import embedded_database_url

    return embedded_database_url()


def url_arguments(url: str) -> dict[str, Any]:
    """pg8000's `connect()` arguments for a URL: `postgresql[+pg8000]://user:password@host:port/db?k=v`
    (query parameters are passed on as they are, e.g. `unix_sock=/run/postgresql/.s.PGSQL.5432`)."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ConfigError(f"invalid setting DATABASE_URL: the scheme must be one of {', '.join(_SCHEMES)}")
    arguments: dict[str, Any] = dict(parse_qsl(parts.query))
    if parts.username:
        arguments["user"] = unquote(parts.username)
    if parts.password is not None:
        arguments["password"] = unquote(parts.password)
    if parts.hostname:
        arguments["host"] = parts.hostname
    if parts.port is not None:
        arguments["port"] = parts.port
    if parts.path.strip("/"):
        arguments["database"] = unquote(parts.path.lstrip("/"))
    return arguments


def connector(settings: Settings, *, connector_factory: Callable[..., Any] | None = None) -> Connect:
    """A function that opens one new connection for these settings (the network is used only then)."""
    if settings.cloud_sql_instance:
        return _cloud_sql(settings, connector_factory)
    import pg8000.dbapi

    arguments = url_arguments(database_url(settings))
    arguments.setdefault("timeout", settings.db_connect_timeout_s)
    arguments.setdefault("application_name", settings.app_name)
    return lambda: pg8000.dbapi.connect(**arguments)


def _cloud_sql(settings: Settings, connector_factory: Callable[..., Any] | None) -> Connect:
    # Cloud-only import: keeps the connector (and aiohttp) off the local import path.
    from google.cloud.sql.connector import Connector, IPTypes, RefreshStrategy

    factory = connector_factory or Connector
    options: dict[str, Any] = {
        "ip_type": IPTypes.PRIVATE if settings.db_private_ip else IPTypes.PUBLIC,
        "enable_iam_auth": settings.db_iam_auth,
        "refresh_strategy": RefreshStrategy.LAZY,  # serverless CPU is throttled between requests
    }
    if settings.cloud_sql_admin_endpoint:
        options["sqladmin_api_endpoint"] = settings.cloud_sql_admin_endpoint
    cloud_sql = factory(**options)
    password = None if settings.db_iam_auth or settings.db_password is None else settings.db_password.get_secret_value()
    instance = str(settings.cloud_sql_instance)

    def connect() -> Any:
        kwargs: dict[str, Any] = {"user": settings.db_user, "db": settings.db_name}
        kwargs["application_name"] = settings.app_name
        if password is not None:
            kwargs["password"] = password
        return cloud_sql.connect(instance, "pg8000", **kwargs)

    return connect


def set_session_defaults(dbapi_connection: Any, settings: Settings) -> None:
    """Every session: a slow statement ends as an error well inside the function timeout instead of
    hanging it, and times are UTC."""
    cursor = dbapi_connection.cursor()
    cursor.execute(f"SET statement_timeout = {int(settings.db_statement_timeout_ms)}")
    cursor.execute("SET TIME ZONE 'UTC'")
    cursor.close()
    dbapi_connection.commit()


# The SQLSTATEs the code tells apart, all here: a row a unique index refuses, and the server-side
# states that mean "unavailable or too slow", not "your request is wrong" (answered 503).
UNIQUE_VIOLATION = "23505"
UNAVAILABLE_SQLSTATES = frozenset({"57014", "57P01", "57P02", "57P03", "53300", "08000", "08001", "08003", "08006"})


def sqlstate(error: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind a SQLAlchemy/pg8000 error, if there is one."""
    original = getattr(error, "orig", error)
    args = getattr(original, "args", ())
    if args and isinstance(args[0], dict):
        code = args[0].get("C")
        return str(code) if code else None
    return None
