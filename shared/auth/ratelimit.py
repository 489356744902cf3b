"""Attempt limits of the auth function: sign-in, registration and password change.

An attempt is reserved *before* the password is checked or hashed: one Redis transaction
increments every counter the attempt touches (and starts its window), so of many requests racing,
only those whose counts stay within every limit go on; the rest get 429 before any Argon2 work.
Counts live in Redis, so every instance sees them, and Redis decides while it answers. Each
instance also keeps in memory the highest count Redis gave it in the window (answers of racing
attempts come back in any order: a late one never lowers it); when Redis is down it goes on counting
there, under a lock (so racing attempts still get distinct counts), and once Redis is back it adds
the attempts Redis never saw to Redis's count until the window ends. So an instance never admits
more than a limit in a window, across any number of outages. The policy is written down in the
docs/security.md ("Security").
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shared.errors import TooManyRequests
from shared.platform.cache import Cache, get_cache
from shared.platform.settings import Settings, get_settings

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


@dataclass
class _Window:
    """What one instance knows of one counter in one window, to go on counting from when Redis is down."""

    started: float
    length: int
    seen: int = 0  # the highest count Redis answered (answers may arrive out of order)
    unseen: int = 0  # attempts counted here while Redis was down: Redis never saw them


class Attempts:
    """Fixed-window attempt counters: reserved atomically, shared through Redis, kept in memory too."""

    def __init__(self, cache: Cache, *, clock: Callable[[], float] = time.time) -> None:
        self.cache = cache
        self._clock = clock
        self._memory: dict[str, _Window] = {}
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

        windows = self._windows([limit.key for limit in limits], window_s)
        remote = self.cache.run(count)
        waits = []
        for i, (limit, window) in enumerate(zip(limits, windows, strict=True)):
            if remote is not None:
                counted, left = self._answered(window, int(remote[3 * i])), int(remote[3 * i + 2])
            else:
                counted, left = self._count_in_memory(window)
            if counted > limit.most:
                waits.append(left)
        if waits:
            # A refused attempt is given back everywhere: hammering one limit must not fill another
            # (an address past its per-account limit would otherwise lock the account out for all).
            # Given back where it was counted: an attempt Redis never saw is not taken from Redis.
            if remote is not None:
                self.release([limit.key for limit in limits])
            else:
                self._forget([limit.key for limit in limits], counted_here=True)
            raise TooManyRequests(detail, code=code, retry_after=max(1, min(max(waits), window_s)))

    def release(self, keys: Sequence[str]) -> None:
        """Give back one attempt under each key (a success that should not count)."""
        full = [self._full_key(key) for key in keys]
        self.cache.run(lambda c: c.eval(_RELEASE, len(full), *full))
        self._forget(keys, counted_here=False)

    def clear(self, keys: Sequence[str]) -> None:
        """Start these counts again from zero."""
        full = [self._full_key(key) for key in keys]
        self.cache.run(lambda c: c.delete(*full))
        with self._lock:
            for key in keys:
                self._memory.pop(key, None)

    def _forget(self, keys: Sequence[str], *, counted_here: bool) -> None:
        """One attempt less in memory: one of those counted here, or one of Redis's count. A success
        takes it from Redis's count (where it was counted is not known by then), so the memory may
        count one attempt too many, never one too few."""
        with self._lock:
            for key in keys:
                window = self._memory.get(key)
                if window is not None and counted_here:
                    window.unseen = max(0, window.unseen - 1)
                elif window is not None:
                    window.seen = max(0, window.seen - 1)

    def _windows(self, keys: Sequence[str], window_s: int) -> list[_Window]:
        """Each key's window, taken before Redis is asked (a new one once the last is over)."""
        now = self._clock()
        with self._lock:
            windows = []
            for key in keys:
                window = self._memory.get(key)
                if window is None or now - window.started >= window.length:
                    window = self._memory[key] = _Window(started=now, length=window_s)
                windows.append(window)
            return windows

    def _answered(self, window: _Window, counted: int) -> int:
        """The attempt's count: Redis's, plus the attempts counted here that Redis never saw. The
        highest answer is kept, never lowered by one arriving late (answers of racing attempts, or
        of attempts asked just before Redis went down, come back in any order); a late answer is
        judged against the attempts counted here meanwhile, so none is admitted twice over."""
        with self._lock:
            window.seen = max(window.seen, counted)
            return counted + window.unseen

    def _count_in_memory(self, window: _Window) -> tuple[int, int]:
        """Redis is down: count here, under the lock, so racing attempts get distinct counts."""
        with self._lock:
            window.unseen += 1
            return window.seen + window.unseen, int(window.started + window.length - self._clock())


class AuthLimiter:
    """The auth function's limits; numbers from settings (docs/security.md, "Sign-in limits")."""

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
