"""Migrations run both ways on an empty database, and agree with the models."""

import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shared.manage import alembic_config
from shared.schema import metadata
from tests.services import create_database, drop_database


@pytest.fixture
def empty_database(admin_url):
    name = f"rm_mig_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(create_database(admin_url, name), poolclass=sa.NullPool)
    yield engine
    engine.dispose()
    drop_database(admin_url, name)


def run(engine, action, revision):
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, action)(config, revision)


def tables(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(empty_database):
    run(empty_database, "upgrade", "head")
    assert tables(empty_database) == {t.name for t in metadata.sorted_tables}

    run(empty_database, "downgrade", "base")
    assert tables(empty_database) == set()

    run(empty_database, "upgrade", "head")
    assert tables(empty_database) == {t.name for t in metadata.sorted_tables}


def test_models_and_migrations_do_not_drift(empty_database):
    run(empty_database, "upgrade", "head")

    with empty_database.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
