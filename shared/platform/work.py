"""A request's unit of work: a connection taken on first use, the cache, the time, after-commit hooks.

Nothing here imports SQLAlchemy: a request answered from the cache (a cache hit, say) opens a unit
of work and never loads the data layer, which is a third of a cold start. The engine
(`shared.platform.db`) is imported the first time a unit's connection is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa


def _read_alone(conn: sa.Connection, statement: sa.Executable, parameters: Mapping[str, Any] | None) -> list[Any]:
    """Run one statement in the driver's autocommit mode, then turn that off again before the
    connection goes back to the pool. pg8000's own switch: SQLAlchemy's `isolation_level="AUTOCOMMIT"`
    would cost three more round trips to reset the connection at check-in. Nothing is left to
    commit, and the rollback at check-in is skipped by the driver (no transaction is open)."""
    driver: Any = conn.connection.dbapi_connection
    driver.autocommit = True
    try:
        return list(conn.execute(statement, parameters).all())
    finally:
        driver.autocommit = False


class UnitOfWork:
    """A service's view of one request's work: a connection, the cache, the time, after-commit hooks.

    The connection is checked out of the pool on first use, so a request answered from the cache
    never touches the database (no pre-ping, no BEGIN/ROLLBACK round trips). Rolls back unless
    committed. `commit()` may be called early, when a service must keep a record (say, of a failed
    login) and then fail the request.
    """

    def __init__(self, connect: Callable[[], sa.Connection], *, cache: Any, now: datetime) -> None:
        self._connect = connect
        self._conn: sa.Connection | None = None
        self.cache = cache
        self.now = now
        self._after_commit: dict[object, Callable[[], None]] = {}

    @property
    def conn(self) -> sa.Connection:
        """The unit's connection, checked out of the pool the first time it is needed."""
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def read(self, statement: sa.Executable, parameters: Mapping[str, Any] | None = None) -> list[sa.Row[Any]]:
        """The rows of one read-only statement. As the unit's first use of the database it runs on
        its own, outside a transaction, on a connection that goes straight back to the pool: a
        single statement sees one snapshot either way (as every statement of a READ COMMITTED
        transaction does), and the BEGIN and COMMIT round trips are saved. Later, in the unit's
        transaction."""
        if self._conn is not None:
            return list(self._conn.execute(statement, parameters).all())
        with self._connect() as conn:
            return _read_alone(conn, statement, parameters)

    def after_commit(self, action: Callable[[], None], *, key: str | None = None) -> None:
        """Run `action` once the work is committed (cache invalidation goes here, never before);
        under the same `key` the last action registered wins. Dropped if the work rolls back."""
        self._after_commit[key if key is not None else object()] = action

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A savepoint in the unit's transaction: when the block raises, what it wrote is rolled back,
        and so are the after-commit actions it registered (an audit checkpoint of a record undone)."""
        registered = dict(self._after_commit)
        try:
            with self.conn.begin_nested():
                yield
        except BaseException:
            self._after_commit = registered
            raise

    def invalidate(self, *namespaces: str) -> None:
        """Once the work is committed, nothing cached in these namespaces is served again."""
        self.after_commit(lambda: self.cache.invalidate(*namespaces))

    def commit(self) -> None:
        if self._conn is not None:
            self._conn.commit()
        actions, self._after_commit = self._after_commit, {}
        for action in actions.values():
            action()

    def rollback(self) -> None:
        self._after_commit = {}  # they belong to the work that is undone
        if self._conn is not None:
            self._conn.rollback()

    def close(self) -> None:
        """Return the connection (if one was taken) to the pool."""
        if self._conn is not None:
            self._conn.close()


@contextmanager
def unit_of_work(
    *, engine: sa.Engine | None = None, cache: Any = None, now: datetime | None = None
) -> Iterator[UnitOfWork]:
    """Open a unit of work; it commits when the block ends normally and rolls back otherwise."""
    from shared.platform.cache import get_cache
    from shared.platform.clock import utcnow

    def connect() -> sa.Connection:
        if engine is not None:
            return engine.connect()
        from shared.platform.db import get_engine

        return get_engine().connect()

    work = UnitOfWork(connect, cache=cache if cache is not None else get_cache(), now=now or utcnow())
    try:
        try:
            yield work
        except BaseException:
            work.rollback()
            raise
        work.commit()
    finally:
        work.close()
