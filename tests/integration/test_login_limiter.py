"""Failed logins are limited per account and per address, with Redis and without it.

An attempt is reserved before its password is checked; a failure keeps its reservation.
"""

import itertools
import threading
from collections.abc import Callable

import pytest
import redis

from shared import local
from shared.auth.ratelimit import AuthLimiter
from shared.errors import TooManyRequests
from shared.platform.cache import Cache
from tests.servers import throwaway_redis


def limiter_on(url: str, **limits) -> AuthLimiter:
    client = redis.Redis.from_url(url, socket_timeout=0.3, socket_connect_timeout=0.3)
    return AuthLimiter(Cache(client, prefix="limits", cooldown_s=0.0), **limits)


def fail(limiter: AuthLimiter, times: int, email="a@example.com", client="10.0.0.1") -> None:
    for _ in range(times):
        limiter.reserve_login(email=email, client=client)


def succeed(limiter: AuthLimiter, email="a@example.com", client="10.0.0.1") -> None:
    limiter.reserve_login(email=email, client=client)
    limiter.login_succeeded(email=email, client=client)


def racing_reservations(limiter: AuthLimiter, attempts: int) -> int:
    """How many of `attempts` simultaneous attempts at one account from one address get through."""
    return racing(lambda: limiter.reserve_login(email="a@example.com", client="10.0.0.1"), attempts)


def racing(reserve: Callable[[], None], attempts: int) -> int:
    """How many of `attempts` simultaneous calls of `reserve` are admitted (not refused with 429)."""
    passed: list[bool] = []
    barrier = threading.Barrier(attempts)

    def attempt() -> None:
        barrier.wait()
        try:
            reserve()
            passed.append(True)
        except TooManyRequests:
            passed.append(False)

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(passed)


def test_two_instances_share_the_count_through_redis():
    with throwaway_redis() as server:
        first, second = limiter_on(server.url, per_account=4), limiter_on(server.url, per_account=4)
        fail(first, 2)
        fail(second, 2)

        with pytest.raises(TooManyRequests) as raised:
            first.reserve_login(email="a@example.com", client="10.0.0.2")
        assert 0 < raised.value.retry_after <= 900


def test_the_limit_still_holds_per_instance_with_redis_stopped():
    with throwaway_redis() as server:
        limiter = limiter_on(server.url, per_account=3)
        fail(limiter, 1)
        server.stop()

        fail(limiter, 2)  # counted in memory now

        with pytest.raises(TooManyRequests):
            limiter.reserve_login(email="a@example.com", client="10.0.0.9")


def test_a_success_resets_the_account_but_not_the_address():
    with throwaway_redis() as server:
        limiter = limiter_on(server.url, per_account_client=3, per_account=3, per_client=6)
        fail(limiter, 2)
        succeed(limiter)  # the account starts again; the address keeps its 2 failures
        fail(limiter, 2)
        limiter.reserve_login(email="a@example.com", client="10.0.0.1")  # 3rd since the success

        fail(limiter, 1, email="b@example.com")  # the address's 6th failure
        with pytest.raises(TooManyRequests):
            limiter.reserve_login(email="c@example.com", client="10.0.0.1")


def test_forty_racing_attempts_against_a_limit_of_ten_let_exactly_ten_through():
    with throwaway_redis() as server:
        limiter = limiter_on(server.url, per_account_client=10)

        assert racing_reservations(limiter, 40) == 10


def test_racing_attempts_stay_within_the_limit_with_redis_stopped():
    with throwaway_redis() as server:
        limiter = limiter_on(server.url, per_account_client=10)
        fail(limiter, 2)
        server.stop()

        assert racing_reservations(limiter, 40) == 8


def test_one_address_failing_cannot_lock_the_owner_out_from_another():
    with throwaway_redis() as server:
        limiter = limiter_on(server.url)  # the defaults: 10 per account and address, 100 per account
        fail(limiter, 10, client="10.6.6.6")
        for _ in range(150):  # refused attempts count toward nothing else
            with pytest.raises(TooManyRequests):
                limiter.reserve_login(email="a@example.com", client="10.6.6.6")

        succeed(limiter, client="10.0.0.1")


def test_failures_from_many_addresses_meet_the_per_account_ceiling():
    with throwaway_redis() as server:
        limiter = limiter_on(server.url, per_account=30)
        for i in range(3):
            fail(limiter, 10, client=f"10.6.6.{i}")

        with pytest.raises(TooManyRequests) as raised:
            limiter.reserve_login(email="a@example.com", client="10.0.0.1")
        assert 0 < raised.value.retry_after <= 900


class Outage:
    """A Redis client that stops answering: every command fails while `down`, or after `answers` of them."""

    def __init__(self, url: str, answers: int | None = None) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=0.3, socket_connect_timeout=0.3)
        self.down = False
        self._answers = itertools.count() if answers is None else iter(range(answers))

    def __getattr__(self, name: str):
        if self.down or next(self._answers, None) is None:
            raise redis.ConnectionError("Redis went away")
        return getattr(self.client, name)


def exchanges(limiter: AuthLimiter, times: int) -> int:
    """How many of `times` token exchanges from one address, one after the other, are admitted."""
    return sum(racing(lambda: limiter.reserve_exchange(client="10.0.0.1"), 1) for _ in range(times))


def test_the_dev_stand_in_runs_the_limiters_script_and_admits_exactly_the_limit_of_racing_attempts():
    server = local.serve_fake_redis()  # what `make dev` and the tests without a Redis serve
    url = f"redis://127.0.0.1:{server.server_address[1]}/0"
    try:
        cache = Cache(redis.Redis.from_url(url), prefix="limits")  # the cool-down of a real instance
        limiter = AuthLimiter(cache, exchange_per_client=60)

        assert racing(lambda: limiter.reserve_exchange(client="10.0.0.1"), 100) == 60
        assert racing(lambda: limiter.reserve_exchange(client="10.0.0.1"), 20) == 0
        # The refused attempts were given back by the script, in the stand-in: it alone counted.
        assert int(cache.client.get("limits:exchange:client:10.0.0.1")) == 60
        assert cache.run(lambda c: c.ping()) is True  # never taken for down
    finally:
        server.shutdown()
        server.server_close()


def test_an_instance_admits_exactly_the_limit_across_an_outage_and_back():
    with throwaway_redis() as server:
        outage = Outage(server.url)
        limiter = AuthLimiter(Cache(outage, prefix="limits", cooldown_s=0.0), exchange_per_client=60)

        admitted = exchanges(limiter, 30)
        outage.down = True
        admitted += exchanges(limiter, 20)  # counted in memory, unseen by Redis
        outage.down = False
        admitted += exchanges(limiter, 50)  # Redis answers again, knowing of 30

        assert admitted == 60


def test_racing_attempts_admit_exactly_the_limit_when_redis_fails_among_them():
    with throwaway_redis() as server:
        for answers in (20, 45, 70):
            limiter = AuthLimiter(Cache(Outage(server.url, answers), prefix=f"limits{answers}", cooldown_s=0.0),
                                  exchange_per_client=60)  # fmt: skip

            raced = racing(lambda limiter=limiter: limiter.reserve_exchange(client="10.0.0.1"), 100)
            # Never more than the limit, however late the answers from before the outage come back; and
            # the attempts those answers cost (counted twice meanwhile) are free again once they are in.
            assert raced <= 60 and raced + exchanges(limiter, 40) == 60, (answers, raced)
