"""Failed logins are limited per account and per address, with Redis and without it.

An attempt is reserved before its password is checked; a failure keeps its reservation.
"""

import threading

import pytest
import redis

from shared.auth.ratelimit import AuthLimiter
from shared.cache import Cache
from shared.errors import TooManyRequests
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
    passed: list[bool] = []
    barrier = threading.Barrier(attempts)

    def attempt() -> None:
        barrier.wait()
        try:
            limiter.reserve_login(email="a@example.com", client="10.0.0.1")
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
