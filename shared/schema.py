"""Every table, on one MetaData: what Alembic compares the migrations against."""

from shared.audit import tables as audit_tables
from shared.auth import tables as auth_tables
from shared.db import metadata

__all__ = ["audit_tables", "auth_tables", "metadata"]
