"""Safe to retry: a create sent again after a lost answer makes one release (its Idempotency-Key comes
from its inputs); reads retry on 429/503 honouring Retry-After, within RELMAN_RETRY_SECONDS."""

from __future__ import annotations

import json
import time

from tests.cli.conftest import Relman
from tests.cli.stand_ins import DroppingProxy, stand_in
from tests.factories import access_token, make_user
from tests.servers import DevServer, call


def test_a_create_retried_after_a_dropped_connection_makes_one_release(relman_bin: str, dev_server: DevServer):
    developer = access_token(make_user("developer"))
    proxy = DroppingProxy(dev_server.port)
    try:
        created = Relman(relman_bin, f"http://127.0.0.1:{proxy.port}")(
            "release", "create", "-a", "checkout", "--version", "1.4.0", "--ready", "-o", "json", token=developer
        )
    finally:
        proxy.close()

    assert b"201 CREATED" in proxy.dropped_answer.upper()  # the first attempt did make the release
    assert created.returncode == 0, created.stderr
    assert "retrying" in created.stderr and "replayed" in created.stderr
    _, _, page = call(dev_server.base, "GET", "/releases?application=checkout",
                      headers={"Authorization": f"Bearer {developer}"})  # fmt: skip
    assert [r["id"] for r in page["items"]] == [json.loads(created.stdout)["id"]]


def test_the_same_create_run_twice_makes_one_release(relman: Relman, dev_server: DevServer):
    """A pipeline step re-run: the same inputs, the same key, the first answer replayed."""
    developer = access_token(make_user("developer"))
    args = ("release", "create", "-a", "checkout", "--version", "1.4.0", "--ready", "-o", "json")

    first, again = relman(*args, token=developer), relman(*args, token=developer)

    assert first.returncode == again.returncode == 0, again.stderr
    assert json.loads(first.stdout)["id"] == json.loads(again.stdout)["id"]


ME = {"id": "u1", "email": "ci@example.com", "display_name": "CI", "role": "developer", "token": None}


def test_reads_retry_on_503_and_429_after_the_retry_after_they_give(relman_bin: str, services):
    """Stand-in: the real service answers 503/429 only when broken or flooded; here it says so on demand."""
    answers = iter([(503, {"Retry-After": "1"}, {"code": "database_unavailable"}), (429, {"Retry-After": "1"}, {})])
    with stand_in({("GET", "/auth/me"): lambda seen: next(answers, (200, {}, ME))}) as server:
        started = time.monotonic()
        asked = Relman(relman_bin, server.base)("whoami", "-o", "json", token="rm_x")
        took = time.monotonic() - started

    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["email"] == "ci@example.com"
    assert len(server.requests("/auth/me")) == 3 and took >= 2.0
    assert asked.stderr.count("retrying in 1.0 s") == 2


def test_a_service_that_stays_unavailable_is_6_once_the_retry_budget_is_spent(relman_bin: str, services):
    with stand_in(
        {("GET", "/auth/me"): lambda seen: (503, {"Retry-After": "1"}, {"code": "database_unavailable"})}
    ) as s:
        started = time.monotonic()
        asked = Relman(relman_bin, s.base)("whoami", "-o", "json", token="rm_x", RELMAN_RETRY_SECONDS="3")
        took = time.monotonic() - started

    assert asked.returncode == 6, asked.stderr
    assert json.loads(asked.stdout)["code"] == "database_unavailable"  # the service's own problem document
    assert 2.0 <= took < 6.0
