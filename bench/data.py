"""The benchmark's own database and cache namespace: created, migrated, filled, dropped.

Releases are generated in SQL (generate_series) so 100,000 of them load in seconds; their
`version_key` is built in SQL the way `shared.releases.rules.version_sort_key` builds it, and
every key is checked against the Python function after loading.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import sqlalchemy as sa

APPLICATIONS = 1000
ADMIN_URL = "postgresql+pg8000://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "a long bench passphrase"
# A term in exactly ten releases whatever the size (a specific search), and one in 1% of them.
RARE_TERM, COMMON_TERM = "heartbleed", "payments"

# Row i: application app-(i mod 1000); its n-th version (n = i div 1000) is (n div 10).(n mod 10).0,
# and every tenth one a release candidate `-rc.1`. Each release has a succeeded deployment to dev,
# every second one to staging, every fourth one to production.
_RELEASES = """
INSERT INTO releases (id, application, version, version_key, title, notes, source, artifacts, status,
                      created_by, created_at, updated_at)
SELECT gen_random_uuid(), app, version, version_key, app || ' ' || version, notes,
       jsonb_build_object('repository', 'https://git.example.com/' || app, 'commit_sha', md5(i::text),
                          'branch', 'main'),
       jsonb_build_array(jsonb_build_object('name', 'image', 'uri', 'registry.example.com/' || app,
                                            'digest', 'sha256:' || md5(i::text) || md5(app))),
       'ready', CAST(:user_id AS uuid), ts, ts
FROM (
  SELECT i, 'app-' || lpad(mod(i, 1000)::text, 4, '0') AS app,
         (i / 1000) / 10 AS major, mod(i / 1000, 10) AS minor, mod(i / 1000, 10) = 9 AS rc,
         TIMESTAMPTZ '2026-01-01 00:00:00+00' + i * INTERVAL '1 minute' AS ts,
         'Changes: ' || (ARRAY['fix', 'feature', 'refactor', 'login', 'search', 'cache', 'metrics', 'docs',
                                'rollback', 'build'])[1 + mod(i * 7, 10)]
           || ' and ' || (ARRAY['api', 'ui', 'database', 'queue', 'worker'])[1 + mod(i * 3, 5)]
           || CASE WHEN mod(i, 100) = 42 THEN ' in ' || :common ELSE '' END
           || CASE WHEN i < 1000 AND mod(i, 100) = 50 THEN ', patches ' || :rare ELSE '' END AS notes
  FROM generate_series(CAST(:start AS int), CAST(:stop AS int) - 1) AS i
) AS g,
LATERAL (SELECT major || '.' || minor || '.0' || CASE WHEN rc THEN '-rc.1' ELSE '' END AS version,
                lpad(major::text, 20, '0') || '.' || lpad(minor::text, 20, '0') || '.' || lpad('0', 20, '0')
                || CASE WHEN rc THEN '-1rc!000011' ELSE '~' END AS version_key) AS v
"""

_DEPLOYMENTS = """
INSERT INTO deployments (id, release_id, application, version, environment, kind, status, requested_by,
                         created_at, updated_at, started_at, finished_at)
SELECT gen_random_uuid(), r.id, r.application, r.version, e.name, 'deploy', 'succeeded', r.created_by,
       r.created_at + e.position * INTERVAL '10 seconds', r.created_at + e.position * INTERVAL '10 seconds',
       r.created_at + e.position * INTERVAL '10 seconds', r.created_at + e.position * INTERVAL '20 seconds'
FROM releases r
JOIN LATERAL (SELECT name, position FROM environments) AS e ON true
WHERE r.created_at >= TIMESTAMPTZ '2026-01-01 00:00:00+00' + CAST(:start AS int) * INTERVAL '1 minute'
  AND r.application LIKE 'app-%'
  AND (e.name = 'dev'
       OR (e.name = 'staging' AND mod(extract(epoch FROM r.created_at)::bigint / 60, 2) = 0)
       OR (e.name = 'production' AND mod(extract(epoch FROM r.created_at)::bigint / 60, 4) = 0))
"""

# One audit event per deployment, its success, at its time: what the change timeline reads. The hash
# chain is not computed (the benchmark never verifies it).
_AUDIT = """
INSERT INTO audit_events (id, occurred_at, actor, action, entity_type, entity_id, data, prev_hash, hash, hash_version)
SELECT gen_random_uuid(), d.finished_at, d.requested_by::text, 'deployment.status_changed', 'deployment', d.id::text,
       jsonb_build_object('from', 'in_progress', 'to', 'succeeded'), 'bench', 'bench', 1
FROM deployments d JOIN releases r ON r.id = d.release_id
WHERE r.created_at >= TIMESTAMPTZ '2026-01-01 00:00:00+00' + CAST(:start AS int) * INTERVAL '1 minute'
  AND r.application LIKE 'app-%'
ORDER BY d.finished_at
"""


class BenchDatabase:
    """A fresh database `rm_bench_<id>` on the local PostgreSQL and a Redis prefix of its own."""

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex[:10]
        self.name = f"rm_bench_{self.id}"
        self.url = ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
        self.cache_prefix = f"rmbench-{self.id}"
        self.size = 0
        self.admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)

    @property
    def user(self) -> str:
        """The database role the servers sign in as (also over the Cloud SQL stand-in)."""
        return str(sa.engine.make_url(self.url).username)

    def environment(self) -> dict[str, str]:
        """The settings every server of the run gets (test environment: placeholder JWT key allowed)."""
        return {
            "ENVIRONMENT": "test",
            "DATABASE_URL": self.url,
            "REDIS_URL": REDIS_URL,
            "CACHE_PREFIX": self.cache_prefix,
            "LOG_LEVEL": "INFO",
        }

    def create(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        os.environ.update(self.environment())
        from shared.manage import migrate

        migrate()

    def drop(self) -> None:
        from shared.platform.db import reset_engine

        reset_engine()
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{self.cache_prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])

    def make_user(self, role: str, *, name: str | None = None) -> dict[str, Any]:
        from shared.auth import service
        from shared.platform.work import unit_of_work

        with unit_of_work() as work:
            account = service.NewAccount(
                email=f"{name or role}-{self.id}@bench.example.com", password=PASSWORD, display_name=role, role=role
            )
            return service.create_account(work, account)

    def fill(self, size: int, *, user_id: str, chunk: int = 25_000) -> None:
        """Grow the releases (and their deployments) to `size`, then ANALYZE."""
        from shared.platform.db import transaction

        for start in range(self.size, size, chunk):
            stop = min(size, start + chunk)
            params = {"start": start, "stop": stop, "user_id": user_id, "common": COMMON_TERM, "rare": RARE_TERM}
            with transaction() as conn:
                conn.execute(sa.text(_RELEASES), params)
                conn.execute(sa.text(_DEPLOYMENTS), {"start": start})
                conn.execute(sa.text(_AUDIT), {"start": start})
        self.size = size
        # What autovacuum would have done to a table that grew this way: statistics, and the GIN
        # index's pending list merged (a bulk load leaves it long, and searches then scan it).
        engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        with engine.connect() as conn:
            conn.execute(sa.text("VACUUM ANALYZE releases"))
            conn.execute(sa.text("VACUUM ANALYZE deployments"))
            conn.execute(sa.text("VACUUM ANALYZE audit_events"))
        engine.dispose()
        self.check_version_keys()

    def check_version_keys(self) -> None:
        """Every generated key is exactly what the application computes."""
        from shared.platform.db import transaction
        from shared.releases.rules import version_sort_key

        with transaction() as conn:
            pairs = conn.execute(sa.text("SELECT DISTINCT version, version_key FROM releases")).all()
        wrong = [v for v, key in pairs if version_sort_key(v) != key]
        if wrong:
            raise RuntimeError(f"generated version_key differs from version_sort_key for {wrong[:3]}")

    def sessions(self) -> int:
        """Sessions ever opened on the bench database (pg_stat_database, PostgreSQL 14+)."""
        with self.admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            return int(
                conn.scalar(sa.text("SELECT sessions FROM pg_stat_database WHERE datname = :d"), {"d": self.name}) or 0
            )
