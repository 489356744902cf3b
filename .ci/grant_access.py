"""After migrating: let each function's IAM database user use the application's tables.

Cloud SQL creates IAM database users with no privileges, and the tables belong to the user that
migrated them (the pipeline's service account), so every migration is followed by this step:
`python .ci/grant_access.py USER...` with the same settings as `python -m shared.manage migrate`.
Functions get read and write on every table but Alembic's bookkeeping, and only read and append on
the audit log (its triggers refuse changes as well).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NOT_FOR_FUNCTIONS = {"alembic_version"}
APPEND_ONLY = {"audit_events"}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def grant(conn: sa.Connection, users: list[str], schema: str = "public") -> list[str]:
    """Grant `users` what the functions need on every table of `schema`; returns the tables."""
    tables = sorted(conn.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}))
    for user in map(_quoted, users):
        conn.execute(sa.text(f"GRANT USAGE ON SCHEMA {_quoted(schema)} TO {user}"))
        for table in tables:
            if table in NOT_FOR_FUNCTIONS:
                continue
            privileges = "SELECT, INSERT" if table in APPEND_ONLY else "SELECT, INSERT, UPDATE, DELETE"
            conn.execute(sa.text(f"GRANT {privileges} ON {_quoted(schema)}.{_quoted(table)} TO {user}"))
        conn.execute(sa.text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {_quoted(schema)} TO {user}"))
    return [t for t in tables if t not in NOT_FOR_FUNCTIONS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python .ci/grant_access.py", description=__doc__.split("\n")[0])
    parser.add_argument("users", nargs="+", help="IAM database users (SA email minus .gserviceaccount.com)")
    args = parser.parse_args(argv)
    from shared.platform.db import get_engine

    with get_engine().begin() as conn:
        tables = grant(conn, args.users)
    print(f"granted {len(args.users)} function users access to {len(tables)} tables")
    return 0


if __name__ == "__main__":
    sys.exit(main())
