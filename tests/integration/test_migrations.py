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


def test_the_upgrade_registers_the_applications_todays_data_knows(empty_database):
    run(empty_database, "upgrade", "0003")
    with empty_database.begin() as conn:
        for application, version in (("checkout", "1.0.0"), ("checkout", "1.1.0"), ("search", "2.0.0")):
            conn.execute(
                sa.text(
                    "INSERT INTO releases (id, application, version, version_key, title, status, created_by,"
                    " created_at, updated_at) VALUES (:id, :app, :version, :version, 't', 'ready', :by, now(), now())"
                ),
                {"id": uuid.uuid4(), "app": application, "version": version, "by": uuid.uuid4()},
            )
        conn.execute(
            sa.text(
                "INSERT INTO freezes (id, environment, starts_at, ends_at, reason, created_by, created_at)"
                " VALUES (:id, 'production', now(), now() + interval '1 hour', 'r', :by, now())"
            ),
            {"id": uuid.uuid4(), "by": uuid.uuid4()},
        )

    run(empty_database, "upgrade", "head")

    with empty_database.connect() as conn:
        registered = conn.execute(sa.text("SELECT name FROM applications ORDER BY name")).scalars().all()
        stages = conn.execute(sa.text("SELECT count(*) FROM application_stages")).scalar()
        freeze_scope = conn.execute(sa.text("SELECT application FROM freezes")).scalar()
    assert registered == ["checkout", "search"]
    assert stages == 0  # on the default path: the environments catalogue, today's global path
    assert freeze_scope is None  # every application, as before
