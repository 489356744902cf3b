"""Failed logins are limited per account and per address, with Redis and without it."""

import pytest
import redis

from shared.auth.ratelimit import LoginLimiter
from shared.cache import Cache
from shared.errors import TooManyRequests
from tests.servers import throwaway_redis


def limiter_on(url: str, **limits) -> LoginLimiter:
    client = redis.Redis.from_url(url, socket_timeout=0.3, socket_connect_timeout=0.3)
    return LoginLimiter(Cache(client, prefix="limits", cooldown_s=0.0), **limits)


def fail(limiter: LoginLimiter, times: int, email="a@example.com", client="10.0.0.1") -> None:
    for _ in range(times):
        limiter.check(email=email, client=client)
        limiter.record_failure(email=email, client=client)


def test_two_instances_share_the_count_through_redis():
    with throwaway_redis() as server:
        first, second = limiter_on(server.url, per_account=4), limiter_on(server.url, per_account=4)
        fail(first, 2)
        fail(second, 2)

        with pytest.raises(TooManyRequests) as raised:
            first.check(email="a@example.com", client="10.0.0.2")
        assert 0 < raised.value.retry_after <= 900


def test_the_limit_still_holds_per_instance_with_redis_stopped():
    with throwaway_redis() as server:
        limiter = limiter_on(server.url, per_account=3)
        fail(limiter, 1)
        server.stop()

        fail(limiter, 2)  # counted in memory now

        with pytest.raises(TooManyRequests):
            limiter.check(email="a@example.com", client="10.0.0.9")


def test_a_success_resets_the_account_but_not_the_address():
    with throwaway_redis() as server:
        limiter = limiter_on(server.url, per_account=3, per_client=5)
        fail(limiter, 2)
        limiter.reset(email="a@example.com")
        fail(limiter, 2)
        limiter.check(email="a@example.com", client="10.0.0.1")

        fail(limiter, 1, email="b@example.com")
        with pytest.raises(TooManyRequests):
            limiter.check(email="c@example.com", client="10.0.0.1")
