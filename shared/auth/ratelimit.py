"""Failed-login counting per account and per client address (fixed windows).

Counts live in Redis, so every instance sees them; when Redis is down each instance keeps
counting in its own memory, so the limit still holds (per instance) during an outage.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable

from shared.cache import Cache, get_cache
from shared.errors import TooManyRequests


class LoginLimiter:
    """At most `per_account` failures per email and `per_client` per address in a window."""

    def __init__(
        self,
        cache: Cache,
        *,
        per_account: int = 10,
        per_client: int = 50,
        window_s: int = 900,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache = cache
        self.limits = {"account": per_account, "client": per_client}
        self.window_s = window_s
        self._clock = clock
        self._memory: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _keys(self, email: str, client: str) -> dict[str, str]:
        return {"account": f"login-failures:account:{email}", "client": f"login-failures:client:{client}"}

    def _full_key(self, key: str) -> str:
        return f"{self.cache.prefix}:{key}"

    def check(self, *, email: str, client: str) -> None:
        """Raise 429 with Retry-After when either count is at its limit."""
        keys = self._keys(email, client)
        for kind, key in keys.items():
            count, retry_after = self._read(key)
            if count >= self.limits[kind]:
                raise TooManyRequests(
                    "Too many failed logins; wait before trying again.",
                    code="too_many_login_attempts",
                    retry_after=max(1, retry_after),
                )

    def record_failure(self, *, email: str, client: str) -> None:
        for key in self._keys(email, client).values():
            full = self._full_key(key)

            def bump(c: object, full: str = full) -> object:
                pipe = c.pipeline(transaction=True)  # type: ignore[attr-defined]
                pipe.incr(full)
                pipe.expire(full, self.window_s, nx=True)
                return pipe.execute()

            self.cache.run(bump)
            # Counted here too, so an outage starts from this instance's own count, not zero.
            self._bump_memory(key)

    def reset(self, *, email: str) -> None:
        """A successful login clears the account's count (not the address's)."""
        key = self._keys(email, "")["account"]
        self.cache.run(lambda c: c.delete(self._full_key(key)))
        with self._lock:
            self._memory.pop(key, None)

    def _read(self, key: str) -> tuple[int, int]:
        full = self._full_key(key)

        def read(c: object) -> object:
            pipe = c.pipeline(transaction=False)  # type: ignore[attr-defined]
            pipe.get(full)
            pipe.ttl(full)
            return pipe.execute()

        found = self.cache.run(read)
        remote = (int(found[0] or 0), int(found[1])) if found is not None else (0, 0)
        local = self._read_memory(key)
        return max(remote, local)

    def _bump_memory(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            count, started = self._memory.get(key, (0, now))
            if now - started >= self.window_s:
                count, started = 0, now
            self._memory[key] = (count + 1, started)

    def _read_memory(self, key: str) -> tuple[int, int]:
        now = self._clock()
        with self._lock:
            count, started = self._memory.get(key, (0, now))
            if now - started >= self.window_s:
                self._memory.pop(key, None)
                return 0, 0
            return count, int(started + self.window_s - now)


@functools.cache
def get_limiter() -> LoginLimiter:
    """The instance's failed-login counter."""
    return LoginLimiter(get_cache())
