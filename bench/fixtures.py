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

    from shared.platform.db import transaction

    with transaction() as conn:
        ids = [str(r[0]) for r in conn.execute(sa.text("SELECT id FROM releases ORDER BY md5(id::text) LIMIT 40016"))]
        positions = [
            (r[0].isoformat(), str(r[1]))
            for r in conn.execute(sa.text("SELECT created_at, id FROM releases ORDER BY md5(id::text) DESC LIMIT 5000"))
        ]
    hits, misses = ids[:16], ids[16:]
    cache_hits(hits)
    return {"token": token, "email": email, "hit_ids": hits, "miss_ids": misses, "positions": positions}


def cache_hits(release_ids: list[str]) -> None:
    """Read these releases once, so they are cached (again: the cache's TTL is 5 minutes, shorter
    than a long cold-start run)."""
    from shared import catalog as service
    from shared.platform.work import unit_of_work

    for release_id in release_ids:
        with unit_of_work() as work:
            service.get_release(work, release_id=uuid.UUID(release_id))


def cold_probes(token: str, user_id: str, hit_id: str) -> dict[str, Any]:
    """What a new instance of each function really serves first, as `bench.cold_start.Probe`s: a
    health check; the caller's account (a console's or relman's first call) and a token refresh
    (a session going on); a cache-hit read and a pipeline recording a release."""
    import itertools
    import json

    from bench.cold_start import Probe

    bearer = {"Authorization": f"Bearer {token}"}
    as_json = {"Content-Type": "application/json"}
    versions = itertools.count()

    def new_release() -> bytes:
        version = f"1.0.{next(versions)}+{uuid.uuid4().hex[:8]}"
        return json.dumps({"application": "cold-start", "version": version, "title": "A cold start"}).encode()

    def unspent_refresh_token() -> bytes:
        return json.dumps({"refresh_token": refresh_token_of(user_id)}).encode()

    return {
        "health": Probe("health", "/health"),
        "auth": Probe("auth", "/auth/me", bearer),
        "auth refresh": Probe("auth", "/auth/refresh", as_json, method="POST", body=unspent_refresh_token),
        "releases": Probe("releases", f"/releases/{hit_id}", bearer),
        "releases create": Probe("releases", "/releases", bearer | as_json, method="POST", body=new_release, ok=201),
        "console": Probe("console", "/console/login"),
    }


def refresh_token_of(user_id: str) -> str:
    """A new session's refresh token for the user, issued as a login issues it."""
    import sqlalchemy as sa

    from shared.auth import sessions
    from shared.auth.tables import users
    from shared.platform.settings import get_settings
    from shared.platform.work import unit_of_work

    with unit_of_work() as work:
        user = work.conn.execute(sa.select(users).where(users.c.id == uuid.UUID(user_id))).one()
        pair = sessions._issue_pair(work, settings=get_settings(), user=user, family_id=uuid.uuid4())
    return str(pair["refresh_token"])
