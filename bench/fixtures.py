"""What the cold and warm runs serve and request: the function sources and the release ids to ask for."""

from __future__ import annotations

import uuid
from typing import Any

from bench.data import BenchDatabase
from bench.servers import ROOT

FUNCTIONS = ROOT / "functions"  # ours: auth, releases, health
BASELINES = ROOT / "bench" / "functions"  # hello and raw, what ours are measured against


def prepare(db: BenchDatabase, *, token: str, email: str) -> dict[str, Any]:
    """Release ids for cache hits (cached now) and misses (never read), and list positions."""
    import sqlalchemy as sa

    from shared import catalog as service
    from shared.platform.db import transaction, unit_of_work

    with transaction() as conn:
        ids = [str(r[0]) for r in conn.execute(sa.text("SELECT id FROM releases ORDER BY md5(id::text) LIMIT 40016"))]
        positions = [
            (r[0].isoformat(), str(r[1]))
            for r in conn.execute(sa.text("SELECT created_at, id FROM releases ORDER BY md5(id::text) DESC LIMIT 5000"))
        ]
    hits, misses = ids[:16], ids[16:]
    for release_id in hits:
        with unit_of_work() as work:
            service.get_release(work, release_id=uuid.UUID(release_id))
    return {"token": token, "email": email, "hit_ids": hits, "miss_ids": misses, "positions": positions}
