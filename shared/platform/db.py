"""The database: one lazily built engine per instance, and explicit transactions (a request's
unit of work is `shared.platform.work`, which needs none of this until it touches the database).

The pool opens its connections through `shared.platform.connections` (Cloud SQL connector, DATABASE_URL
or the embedded server, chosen by settings alone).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import MetaData

from shared.platform import connections
from shared.platform.settings import Settings, get_settings

# Constraint names are stable so migrations and error mapping can rely on them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _engine_options(settings: Settings) -> dict[str, Any]:
    return {
        "pool_size": settings.pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout_s,
        "pool_recycle": 1800,
        # Statement parameters may be secrets (token hashes, emails): never in an error message or log.
        "hide_parameters": True,
    }


PING_WHEN_IDLE_S = 10.0


def _ping_idle_connections(engine: sa.Engine) -> None:
    """Check a pooled connection before use only if it sat idle: a busy instance skips the round
    trip that `pool_pre_ping` costs on every checkout, while a connection that could have died
    (a database restart, a failover) is still tested, and silently replaced if it fails."""

    @sa.event.listens_for(engine, "checkin")
    def _remember(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_WHEN_IDLE_S:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        except Exception as error:
            raise sa.exc.DisconnectionError() from error


def build_engine(settings: Settings, *, connector_factory: Callable[..., Any] | None = None) -> sa.Engine:
    """Create the engine for these settings (no connection is opened until first use)."""
    connect = connections.connector(settings, connector_factory=connector_factory)
    engine = sa.create_engine("postgresql+pg8000://", creator=connect, **_engine_options(settings))

    @sa.event.listens_for(engine, "connect")
    def _session_defaults(dbapi_connection: Any, _record: Any) -> None:
        connections.set_session_defaults(dbapi_connection, settings)

    _ping_idle_connections(engine)
    return engine


@functools.cache
def get_engine() -> sa.Engine:
    """The instance's engine, built on first use."""
    return build_engine(get_settings())


@contextmanager
def transaction(engine: sa.Engine | None = None) -> Iterator[sa.Connection]:
    """A plain transaction: commits when the block ends normally, rolls back on any exception."""
    with (engine or get_engine()).begin() as conn:
        yield conn


@contextmanager
def savepoint(conn: sa.Connection, *, taken: Callable[[], Exception]) -> Iterator[None]:
    """Run the block in a savepoint. When a unique index refuses its write (SQLSTATE 23505: another
    request got there first) the savepoint alone is rolled back and `taken()` is raised instead, so
    the caller answers a specific conflict and the request's transaction stays usable."""
    try:
        with conn.begin_nested():
            yield
    except sa.exc.DBAPIError as error:  # by SQLSTATE: pg8000's DB-API raises DatabaseError for it
        if connections.sqlstate(error) == connections.UNIQUE_VIOLATION:
            raise taken() from None
        raise


def insert_new(
    conn: sa.Connection,
    table: sa.Table,
    values: Mapping[str, Any],
    *,
    key: str,
    returning: Iterable[sa.ColumnElement[Any]] | None = None,
    taken: Callable[[], Exception],
) -> sa.Row[Any]:
    """Insert one row whose `key` column (a unique index) must be new, and return it (`returning`,
    else every column); `taken()` is raised when a row with that key exists, committed or being
    written by a request still open (ON CONFLICT DO NOTHING waits for it: no savepoint, and the
    transaction stays usable)."""
    from sqlalchemy.dialects.postgresql import insert

    columns = list(returning) if returning is not None else list(table.c)
    statement = insert(table).values(**values).on_conflict_do_nothing(index_elements=[key]).returning(*columns)
    row = conn.execute(statement).first()
    if row is None:
        raise taken()
    return row


def one_of(column: str, values: Iterable[str]) -> str:
    """A CHECK or index condition from an enumeration: `status IN ('draft', 'ready')`."""
    return f"{column} IN ({', '.join(repr(str(value)) for value in values)})"


def reset_engine() -> None:
    """Forget the cached engine (tests and the dev server's re-configuration)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
