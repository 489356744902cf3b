"""Every table, on one MetaData: what Alembic compares the migrations against."""

from shared import idempotency
from shared.applications import tables as application_tables
from shared.audit import tables as audit_tables
from shared.auth import tables as auth_tables
from shared.deployments import tables as deployment_tables
from shared.events import tables as event_tables
from shared.platform.db import metadata
from shared.releases import tables as release_tables

__all__ = [
    "application_tables",
    "audit_tables",
    "auth_tables",
    "deployment_tables",
    "event_tables",
    "idempotency",
    "metadata",
    "release_tables",
]
