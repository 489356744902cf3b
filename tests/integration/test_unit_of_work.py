"""The unit of work against a real PostgreSQL: a read on its own runs outside a transaction, and the
pooled connection it used is transactional again for whoever takes it next."""

import pytest
import sqlalchemy as sa

from shared.platform.db import build_engine
from shared.platform.settings import load_settings
from shared.platform.work import unit_of_work

# True when the statement started its own transaction (no BEGIN before it).
ON_ITS_OWN = sa.text("SELECT transaction_timestamp() = statement_timestamp()")


@pytest.fixture
def one_connection(services):
    """An engine whose pool holds one connection, so every unit of work reuses the same one."""
    engine = build_engine(load_settings(db_pool_size=1, db_max_overflow=0))
    yield engine
    engine.dispose()


def test_a_units_first_and_only_read_runs_outside_a_transaction(one_connection):
    with unit_of_work(engine=one_connection, cache=object()) as work:
        rows = work.read(ON_ITS_OWN)

    assert rows[0][0] is True


def test_a_read_after_the_unit_has_begun_runs_in_its_transaction(one_connection):
    with unit_of_work(engine=one_connection, cache=object()) as work:
        work.conn.execute(sa.text("SELECT 1"))
        rows = work.read(ON_ITS_OWN)

    assert rows[0][0] is False


def test_the_connection_a_read_used_is_transactional_again_even_after_a_failed_read(one_connection):
    with pytest.raises(sa.exc.DBAPIError), unit_of_work(engine=one_connection, cache=object()) as work:
        work.read(sa.text("SELECT 1 / 0"))

    with unit_of_work(engine=one_connection, cache=object()) as work:
        work.conn.execute(sa.text("CREATE TEMPORARY TABLE scratch (n int)"))
        work.rollback()
    with unit_of_work(engine=one_connection, cache=object()) as work:
        left = work.conn.execute(sa.text("SELECT to_regclass('pg_temp.scratch') IS NOT NULL")).scalar()

    assert left is False  # rolled back: the table never existed outside that transaction
