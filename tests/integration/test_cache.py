"""The cache against a real Redis: namespaces, invalidation without scans, failing open."""

import uuid

import pytest
import redis

from shared.platform.cache import Cache


def generation(cache: Cache, namespace: str) -> tuple[int, int] | None:
    """What a reader takes before reading the database: the (epoch, generation) to store under."""
    return cache.lookup([(namespace, "any")])[(namespace, "any")][1]


@pytest.fixture
def cache(services):
    client = redis.Redis.from_url(services["redis_url"])
    yield Cache(client, prefix=f"cachetest-{uuid.uuid4().hex[:8]}", cooldown_s=0.0)
    client.close()


def test_a_value_round_trips_as_json(cache):
    cache.set("releases", "r1", {"version": "1.2.3", "n": 1}, generation=generation(cache, "releases"))

    assert cache.get("releases", "r1") == {"version": "1.2.3", "n": 1}


def test_invalidating_a_namespace_makes_its_values_stale_but_not_others(cache):
    cache.set("releases", "r1", 1, generation=generation(cache, "releases"))
    cache.set("users", "u1", 2, generation=generation(cache, "users"))

    cache.invalidate("releases")

    assert cache.get("releases", "r1") is None
    assert cache.get("users", "u1") == 2


def test_a_value_read_before_an_invalidation_is_never_served_after_it(cache):
    # A reader takes the generation, reads the database, and is slow to store what it read...
    taken = generation(cache, "releases")
    # ...meanwhile a writer commits and invalidates...
    cache.invalidate("releases")
    # ...so the late store must not be served.
    cache.set("releases", "r1", "old", generation=taken)

    assert cache.get("releases", "r1") is None


def test_fetch_loads_once_then_serves_from_cache(cache):
    loads = []

    def load():
        loads.append(1)
        return {"id": "x"}

    assert cache.fetch("releases", "x", load) == {"id": "x"}
    assert cache.fetch("releases", "x", load) == {"id": "x"}
    assert len(loads) == 1


def test_values_expire_with_their_ttl(cache):
    cache.set("releases", "r1", 1, generation=generation(cache, "releases"), ttl_s=1)

    ttl = cache.client.ttl(f"{cache.prefix}:releases:r1")

    assert 0 < ttl <= 1


def test_redis_down_fails_open():
    dead = Cache(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), cooldown_s=60)

    assert dead.get("releases", "r1") is None
    assert dead.fetch("releases", "r1", lambda: {"from": "database"}) == {"from": "database"}
    dead.invalidate("releases")  # no exception


def test_after_an_outage_nothing_cached_before_it_is_served(cache):
    cache.set("releases", "r1", "before outage", generation=generation(cache, "releases"))
    # Redis was unreachable for a while: invalidations made meanwhile were lost.
    cache._was_down = True

    assert cache.get("releases", "r1") is None


def test_our_sessions_are_named_in_postgres_and_redis(services):
    import sqlalchemy as sa

    from shared.platform.cache import get_cache
    from shared.platform.db import get_engine

    with get_engine().connect() as conn:
        assert conn.scalar(sa.text("SELECT current_setting('application_name')")) == "release-manager"
    assert get_cache().client.client_getname() == "release-manager"


def test_a_value_over_the_entry_limit_is_not_cached_but_still_served(services):
    client = redis.Redis.from_url(services["redis_url"])
    cache = Cache(client, prefix=f"cachetest-{uuid.uuid4().hex[:8]}", max_entry_bytes=1024, cooldown_s=0.0)
    loads = []

    def load():
        loads.append(1)
        return {"notes": "n" * 2048}

    assert cache.fetch("releases", "big", load) == {"notes": "n" * 2048}
    assert cache.fetch("releases", "big", load) == {"notes": "n" * 2048}
    assert len(loads) == 2
    assert client.exists(f"{cache.prefix}:releases:big") == 0
    client.close()
