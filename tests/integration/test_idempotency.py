"""Idempotency records expire after 24 hours and are cleared without a scheduler."""

from datetime import timedelta

import sqlalchemy as sa

from shared.idempotency import idempotency_keys, purge_expired
from shared.platform.clock import utcnow
from shared.platform.db import get_engine


def test_expired_records_are_purged_in_bounded_batches_and_fresh_ones_kept():
    now = utcnow()
    with get_engine().begin() as conn:
        conn.execute(
            sa.insert(idempotency_keys),
            [
                {"caller": "c", "key": f"old-{i}", "fingerprint": "f", "created_at": now - timedelta(hours=25)}
                for i in range(5)
            ]
            + [{"caller": "c", "key": "fresh", "fingerprint": "f", "created_at": now - timedelta(hours=23)}],
        )
        first = purge_expired(conn, now=now, limit=3)
        second = purge_expired(conn, now=now, limit=3)
        left = list(conn.scalars(sa.select(idempotency_keys.c.key)))

    assert (first, second) == (3, 2)
    assert left == ["fresh"]
