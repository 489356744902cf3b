"""Migrations run both ways on an empty database, and agree with the models."""

import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shared.manage import alembic_config
from shared.schema import metadata
from tests.services import ROOT, create_database, drop_database


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


def test_pgaudit_is_created_where_the_server_can_load_it_and_the_migration_passes_where_it_cannot(empty_database):
    # terraform/sql.tf sets pgaudit.log, which does nothing until the extension exists; this
    # machine's PostgreSQL may not have the package at all, and the migration must pass there too.
    run(empty_database, "upgrade", "0006")
    with empty_database.connect() as conn:
        available = conn.scalar(sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pgaudit'")) == 1
        preloaded = "pgaudit" in conn.scalar(sa.text("SELECT current_setting('shared_preload_libraries')"))
        cloud_sql = conn.scalar(sa.text("SELECT count(*) FROM pg_roles WHERE rolname = 'cloudsqlsuperuser'")) == 1

    run(empty_database, "upgrade", "0008")

    with empty_database.connect() as conn:
        installed = conn.scalar(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'pgaudit'")) == 1
    assert installed == (available and (preloaded or cloud_sql))
    migration = (ROOT / "migrations" / "versions" / "0008_audit_anchor_and_pgaudit.py").read_text()
    assert "CREATE EXTENSION IF NOT EXISTS pgaudit" in migration and "pg_available_extensions" in migration
