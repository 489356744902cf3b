"""The cache: namespaced JSON values in Redis (Memorystore), failing open.

Invalidation never scans the keyspace. Each namespace has a generation counter and the whole
cache an epoch; a value is stored with the (epoch, generation) it was read under, and a read
fetches value, epoch and generation in one round trip (MGET). `invalidate(ns)` is one INCR
(pipelined with an EXPIRE, so counters of per-item namespaces don't pile up).
If Redis was unreachable, writes made meanwhile could not invalidate anything, so the first
successful call after an outage bumps the epoch, and nothing cached before it is served again.
A Redis error is logged and the caller carries on from the database.
"""

from __future__ import annotations

import functools
import logging
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pydantic_core
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.platform import redis_tls
from shared.platform.settings import Settings, get_settings

log = logging.getLogger(__name__)


Found = tuple[Any | None, tuple[int, int] | None]


class Prefetched:
    """A cache for one unit of work whose first reads of some keys were made in advance, together
    with the caller's state (one Redis round trip instead of two on a cache hit)."""

    def __init__(self, cache: Cache, found: dict[tuple[str, str], Found]) -> None:
        self._cache = cache
        self._found = dict(found)

    def fetch(self, namespace: str, key: str, load: Callable[[], Any]) -> Any:
        # Each prefetched result serves once: a second read in the same request asks Redis again.
        return self._cache.fetch(namespace, key, load, found=self._found.pop((namespace, key), None))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cache, name)


class RawJson:
    """A value already serialised to JSON bytes."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload


class Cache:
    """Namespaced JSON get/set with TTL over a Redis client (or none: a disabled cache)."""

    def __init__(
        self,
        client: redis.Redis | None,
        *,
        prefix: str = "rm",
        ttl_s: int = 300,
        max_entry_bytes: int = 256 * 1024,
        cooldown_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.max_entry_bytes = max_entry_bytes
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._down_until = 0.0
        self._was_down = False
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.client is not None

    def _key(self, *parts: object) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    def _call(self, action: Callable[[redis.Redis], Any]) -> Any:
        """Run `action` against Redis unless it is known down; on error, note it and return None."""
        if self.client is None or self._clock() < self._down_until:
            return None
        try:
            if self._was_down:
                self._recover(self.client)
            return action(self.client)
        except redis.RedisError as error:
            with self._lock:
                self._down_until = self._clock() + self.cooldown_s
                self._was_down = True
            log.warning("cache unavailable, serving from the database", extra={"error": type(error).__name__})
            return None

    def _recover(self, client: redis.Redis) -> None:
        client.incr(self._key("epoch"))
        with self._lock:
            self._was_down = False
        log.info("cache reachable again; epoch bumped so nothing from before the outage is served")

    def lookup(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Found]:
        """One round trip for several (namespace, key) pairs: each one's fresh value (or None) and the
        (epoch, generation) a value loaded now must be stored under (None when Redis is unusable)."""
        namespaces = list(dict.fromkeys(namespace for namespace, _ in pairs))
        keys = [self._key("epoch"), *(self._key(n, "gen") for n in namespaces), *(self._key(n, k) for n, k in pairs)]
        found = self._call(lambda c: c.mget(keys))
        if not found:
            return {pair: (None, None) for pair in pairs}
        epoch = int(found[0] or 0)
        generations = {n: (epoch, int(g or 0)) for n, g in zip(namespaces, found[1 : 1 + len(namespaces)], strict=True)}
        result: dict[tuple[str, str], Found] = {}
        for pair, raw in zip(pairs, found[1 + len(namespaces) :], strict=True):
            current = generations[pair[0]]
            entry = pydantic_core.from_json(raw) if raw is not None else {}
            fresh = (entry.get("e"), entry.get("g")) == current
            result[pair] = (entry["v"] if fresh else None, current)
        return result

    def get(self, namespace: str, key: str) -> Any | None:
        """The cached value, or None on a miss, a stale generation or any Redis trouble."""
        return self.lookup([(namespace, key)])[(namespace, key)][0]

    def fetch(self, namespace: str, key: str, load: Callable[[], Any], *, found: Found | None = None) -> Any:
        """The cached value, else `load()` stored under the generation seen before loading.

        `found` is this pair's result of an earlier `lookup` in the same request, saving the round
        trip. Either way the caller gets plain JSON data (timestamps as strings), so a hit and a
        miss look the same.
        """
        value, generation = found if found is not None else self.lookup([(namespace, key)])[(namespace, key)]
        if value is not None:
            return value
        loaded = load()
        if loaded is None:
            return None
        payload = pydantic_core.to_json(loaded)
        self.set(namespace, key, RawJson(payload), generation=generation)
        return pydantic_core.from_json(payload)

    def run(self, action: Callable[[redis.Redis], Any]) -> Any:
        """Any other Redis command, failing open: None when Redis is down or not configured."""
        return self._call(action)

    def set(
        self, namespace: str, key: str, value: Any, *, generation: tuple[int, int] | None, ttl_s: int | None = None
    ) -> None:
        """Store `value` as read under `generation` (from a `lookup` made before the read)."""
        if generation is None:
            return
        epoch, gen = generation
        body = value.payload if isinstance(value, RawJson) else pydantic_core.to_json(value)
        if len(body) > self.max_entry_bytes:
            # One list page of long release notes can weigh megabytes: Redis would hold it and every
            # hit would ship it, for less gain than the database read it saves.
            log.debug("value too big to cache", extra={"namespace": namespace, "bytes": len(body)})
            return
        payload = b'{"e":%d,"g":%d,"v":%s}' % (epoch, gen, body)
        # Never longer than the default: a generation counter outlives every value stored under it.
        ttl = min(ttl_s or self.ttl_s, self.ttl_s)
        self._call(lambda c: c.set(self._key(namespace, key), payload, ex=ttl))

    def invalidate(self, *namespaces: str) -> None:
        """Make every value of these namespaces stale, in one round trip, without scanning."""
        if not namespaces:
            return

        def bump(client: redis.Redis) -> None:
            pipe = client.pipeline(transaction=False)
            for namespace in namespaces:
                # Counters expire after twice a value's lifetime, by when every value stored under an
                # older count is gone; so per-item namespaces don't pile up counters forever.
                pipe.incr(self._key(namespace, "gen"))
                pipe.expire(self._key(namespace, "gen"), 2 * self.ttl_s)
            pipe.execute()

        self._call(bump)

    def ping(self) -> float:
        """Round-trip latency in milliseconds; raises if Redis is not configured or not answering."""
        if self.client is None:
            raise redis.ConnectionError("cache not configured")
        started = time.perf_counter()
        self.client.ping()
        return (time.perf_counter() - started) * 1000


def redis_client(settings: Settings) -> redis.Redis | None:
    """A Redis client for these settings, or None when no REDIS_URL is set."""
    if settings.redis_url is None:
        return None
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout_s,
        "socket_connect_timeout": settings.redis_timeout_s,
        "retry": Retry(NoBackoff(), 1),
        "health_check_interval": 30,
        "client_name": settings.app_name,  # names our connections in CLIENT LIST
    }
    if settings.redis_password is not None:
        options["password"] = settings.redis_password.get_secret_value()
    url = settings.redis_url.get_secret_value()
    if url.startswith("rediss://"):
        options |= {"ssl_cert_reqs": "required", "ssl_min_version": ssl.TLSVersion.TLSv1_2}
        if settings.redis_ca_cert:
            options["ssl_ca_certs"] = settings.redis_ca_cert  # Memorystore: the instance's own CA
        if redis_tls.is_ip_address(urllib.parse.urlsplit(url).hostname or ""):
            # Memorystore is reached by IP and its certificate names it only in the common name,
            # which Python's hostname check ignores: check the address ourselves (shared/platform/redis_tls.py).
            options |= {"ssl_check_hostname": False, "connection_class": redis_tls.AddressCheckedSSLConnection}
    return redis.Redis.from_url(url, **options)


@functools.cache
def get_cache() -> Cache:
    """The instance's cache, built on first use (no connection until the first command)."""
    settings = get_settings()
    return Cache(
        redis_client(settings),
        prefix=settings.cache_prefix,
        ttl_s=settings.cache_ttl_s,
        max_entry_bytes=settings.cache_max_entry_bytes,
        cooldown_s=settings.redis_retry_after_s,
    )
