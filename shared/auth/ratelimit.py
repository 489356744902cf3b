"""Attempt limits of the auth function: sign-in, registration and password change.

An attempt is reserved *before* the password is checked or hashed: one Redis transaction
increments every counter the attempt touches (and starts its window), so of many requests racing,
only those whose counts stay within every limit go on; the rest get 429 before any Argon2 work.
Counts live in Redis, so every instance sees them, and Redis alone decides while it answers. Each
instance also keeps the last counts it saw in memory; when Redis is down it goes on counting there,
under a lock (so racing attempts still get distinct counts), and the limits hold per instance,
starting from the counts seen before the outage. The policy is written down in the README
("Security").
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shared.cache import Cache, get_cache
from shared.errors import TooManyRequests
from shared.settings import Settings, get_settings

# Gives back one attempt, never below zero and never creating a key (so no counter lives forever).
_RELEASE = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"""


@dataclass(frozen=True)
class Limit:
    """At most `most` attempts counted under `key` per window."""

    key: str
    most: int


class Attempts:
    """Fixed-window attempt counters: reserved atomically, shared through Redis, kept in memory too."""

    def __init__(self, cache: Cache, *, clock: Callable[[], float] = time.time) -> None:
        self.cache = cache
        self._clock = clock
        self._memory: dict[str, tuple[int, float, int]] = {}  # key -> (count, window start, window)
        self._lock = threading.Lock()

    def _full_key(self, key: str) -> str:
        return f"{self.cache.prefix}:{key}"

    def reserve(self, limits: Sequence[Limit], *, window_s: int, detail: str, code: str) -> None:
        """Count one attempt under every limit; past any limit, 429 with Retry-After and nothing counted."""
        keys = [self._full_key(limit.key) for limit in limits]

        def count(c: object) -> object:
            pipe = c.pipeline(transaction=True)  # type: ignore[attr-defined]
            for key in keys:
                pipe.incr(key)
                pipe.expire(key, window_s, nx=True)
                pipe.ttl(key)
            return pipe.execute()

        remote = self.cache.run(count)
        waits = []
        for i, limit in enumerate(limits):
            if remote is not None:
                counted, left = int(remote[3 * i]), int(remote[3 * i + 2])
                self._note_in_memory(limit.key, counted, left, window_s)
            else:
                counted, left = self._count_in_memory(limit.key, window_s)
            if counted > limit.most:
                waits.append(left)
        if waits:
            # A refused attempt is given back everywhere: hammering one limit must not fill another
            # (an address past its per-account limit would otherwise lock the account out for all).
            self.release([limit.key for limit in limits])
            raise TooManyRequests(detail, code=code, retry_after=max(1, min(max(waits), window_s)))

    def release(self, keys: Sequence[str]) -> None:
        """Give back one attempt under each key (a success that should not count)."""
        full = [self._full_key(key) for key in keys]
        self.cache.run(lambda c: c.eval(_RELEASE, len(full), *full))
        with self._lock:
            for key in keys:
                if key in self._memory:
                    count, started, window_s = self._memory[key]
                    self._memory[key] = (max(0, count - 1), started, window_s)

    def clear(self, keys: Sequence[str]) -> None:
        """Start these counts again from zero."""
        full = [self._full_key(key) for key in keys]
        self.cache.run(lambda c: c.delete(*full))
        with self._lock:
            for key in keys:
                self._memory.pop(key, None)

    def _note_in_memory(self, key: str, counted: int, left: int, window_s: int) -> None:
        """Keep Redis's count, to go on from should Redis go down."""
        with self._lock:
            self._memory[key] = (counted, self._clock() + max(left, 0) - window_s, window_s)

    def _count_in_memory(self, key: str, window_s: int) -> tuple[int, int]:
        """Increment and read in one step (under the lock): racing attempts get distinct counts."""
        now = self._clock()
        with self._lock:
            count, started, _ = self._memory.get(key, (0, now, window_s))
            if now - started >= window_s:
                count, started = 0, now
            self._memory[key] = (count + 1, started, window_s)
            return count + 1, int(started + window_s - now)


class AuthLimiter:
    """The auth function's limits; numbers from settings (README, "Sign-in limits")."""

    def __init__(
        self,
        cache: Cache,
        *,
        per_account_client: int = 10,
        per_client: int = 50,
        per_account: int = 100,
        window_s: int = 900,
        register_per_client: int = 20,
        register_window_s: int = 3600,
        password_change: int = 10,
        exchange_per_client: int = 60,
        exchange_window_s: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.attempts = Attempts(cache, clock=clock)
        self.per_account_client = per_account_client
        self.per_client = per_client
        self.per_account = per_account
        self.window_s = window_s
        self.register_per_client = register_per_client
        self.register_window_s = register_window_s
        self.password_change = password_change
        self.exchange_per_client = exchange_per_client
        self.exchange_window_s = exchange_window_s

    @classmethod
    def from_settings(cls, cache: Cache, settings: Settings) -> AuthLimiter:
        return cls(
            cache,
            per_account_client=settings.login_limit_account_client,
            per_client=settings.login_limit_client,
            per_account=settings.login_limit_account,
            window_s=settings.login_window_s,
            register_per_client=settings.register_limit_client,
            register_window_s=settings.register_window_s,
            password_change=settings.password_change_limit,
            exchange_per_client=settings.exchange_limit_client,
            exchange_window_s=settings.exchange_window_s,
        )

    @staticmethod
    def _login_keys(email: str, client: str) -> tuple[str, str, str]:
        return f"login:account-client:{email}:{client}", f"login:client:{client}", f"login:account:{email}"

    def reserve_login(self, *, email: str, client: str) -> None:
        """Count a sign-in attempt before its password is checked (a failure keeps it counted)."""
        account_client, by_client, account = self._login_keys(email, client)
        self.attempts.reserve(
            [
                Limit(account_client, self.per_account_client),
                Limit(by_client, self.per_client),
                Limit(account, self.per_account),
            ],
            window_s=self.window_s,
            detail="Too many failed logins; wait before trying again.",
            code="too_many_login_attempts",
        )

    def login_succeeded(self, *, email: str, client: str) -> None:
        """The account's counts start again; the address gets this attempt back (not its failures)."""
        account_client, by_client, account = self._login_keys(email, client)
        self.attempts.clear([account_client, account])
        self.attempts.release([by_client])

    def reserve_registration(self, *, client: str) -> None:
        """Count a registration (each hashes a password) from this address."""
        self.attempts.reserve(
            [Limit(f"register:client:{client}", self.register_per_client)],
            window_s=self.register_window_s,
            detail="Too many registrations from this address; wait before trying again.",
            code="too_many_registrations",
        )

    def reserve_password_change(self, *, user_id: str, client: str) -> None:
        """Count a password change (each checks the current password) per address and per account."""
        self.attempts.reserve(
            [
                Limit(f"password-change:client:{client}", self.password_change),
                Limit(f"password-change:account:{user_id}", self.password_change),
            ],
            window_s=self.window_s,
            detail="Too many password changes; wait before trying again.",
            code="too_many_password_changes",
        )

    def reserve_exchange(self, *, client: str) -> None:
        """Count a token exchange (each verifies a signature, and may fetch an issuer's keys) per address."""
        self.attempts.reserve(
            [Limit(f"exchange:client:{client}", self.exchange_per_client)],
            window_s=self.exchange_window_s,
            detail="Too many token exchanges from this address; wait before trying again.",
            code="too_many_exchanges",
        )


@functools.cache
def get_limiter() -> AuthLimiter:
    """The instance's attempt counters."""
    return AuthLimiter.from_settings(get_cache(), get_settings())
