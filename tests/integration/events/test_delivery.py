"""Sending webhooks to a real receiver on 127.0.0.1, which verifies each delivery with the Standard
Webhooks reference library, as a subscriber's code would."""

from __future__ import annotations

import json
import socket
import time

import pytest
from standardwebhooks import Webhook

from shared.events import delivery, formats, signing
from shared.events.targets import check_target
from tests.integration.events.receivers import receiver, self_signed

EVENT = formats.new_event(type="deployment.succeeded", data={"application": "checkout", "environment": "staging"})
BODY = formats.render("standard", EVENT)


def resolving_to(*addresses):
    def resolve(host, port, **_kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (addresses[0], port))]

    return resolve


def send(url, secret, **options):
    options.setdefault("allow_private", True)
    return delivery.send(url=url, secret=secret, message_id=EVENT["id"], body=BODY, **options)


@pytest.fixture
def secret():
    return signing.new_secret()


def test_a_2xx_is_a_success_and_the_receiver_verifies_the_signed_json(secret):
    with receiver() as box:
        outcome = send(box.url("/ok"), secret)

    assert (outcome.status, outcome.verdict, outcome.error) == (200, "succeeded", None)
    assert outcome.response_excerpt == '{"received": true}'
    [got] = box.requests
    assert Webhook(secret).verify(got.body, got.headers) == json.loads(BODY)
    assert got.headers["webhook-id"] == EVENT["id"]
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == delivery.USER_AGENT


def test_every_retry_carries_the_same_webhook_id_and_verifies(secret):
    with receiver() as box:
        first, retry = send(box.url("/fail"), secret), send(box.url("/accepted"), secret)

    assert (first.verdict, retry.verdict) == ("retry", "succeeded")
    assert {r.headers["webhook-id"] for r in box.requests} == {EVENT["id"]}
    for got in box.requests:
        Webhook(secret).verify(got.body, got.headers)


def test_a_500_is_retried(secret):
    with receiver() as box:
        outcome = send(box.url("/fail"), secret)
    assert (outcome.status, outcome.verdict) == (500, "retry")


def test_a_410_asks_to_disable_the_subscription(secret):
    with receiver() as box:
        outcome = send(box.url("/gone"), secret)
    assert (outcome.status, outcome.verdict) == (410, "disable")


def test_a_slow_receiver_times_out_within_the_bound(secret):
    with receiver() as box:
        outcome = send(box.url("/slow"), secret, timeout_s=1.0)

    assert (outcome.status, outcome.error, outcome.verdict) == (None, "timeout", "retry")
    assert 900 <= outcome.duration_ms < 1500


def test_a_receiver_trickling_its_headers_is_cut_off_at_the_deadline(secret):
    with receiver() as box:
        outcome = send(box.url("/trickle"), secret, timeout_s=1.0)

    assert (outcome.status, outcome.error) == (None, "timeout")
    assert outcome.duration_ms < 1500  # each byte came well within a read timeout: only the deadline stops it


def test_a_redirect_is_not_followed(secret):
    with receiver() as box:
        outcome = send(box.url("/redirect"), secret)

    assert (outcome.status, outcome.verdict) == (302, "retry")
    assert [r.path for r in box.requests] == ["/redirect"]


def test_nobody_listening_is_a_connection_error_to_retry(secret):
    with receiver() as box:
        url = box.url("/ok")
    outcome = send(url, secret)
    assert (outcome.status, outcome.error, outcome.verdict) == (None, "connection_error", "retry")


@pytest.mark.parametrize(
    ("host", "resolve"),
    [
        ("127.0.0.1", socket.getaddrinfo),
        ("10.0.0.1", socket.getaddrinfo),
        ("169.254.169.254", socket.getaddrinfo),
        ("[::1]", socket.getaddrinfo),
        ("localhost", socket.getaddrinfo),
        ("hooks.example.com", resolving_to("127.0.0.1")),
    ],
)
def test_without_the_development_switch_private_targets_are_refused_and_nothing_is_sent(secret, host, resolve):
    with receiver() as box:
        outcome = send(f"https://{host}:{box.port}/ok", secret, allow_private=False, resolve=resolve)

    assert (outcome.status, outcome.error, outcome.verdict) == (None, "target_not_allowed", "retry")
    assert box.requests == []


def test_a_name_that_rebinds_to_a_private_address_after_the_check_is_refused_at_send_time(secret):
    answers = iter(["93.184.216.34", "127.0.0.1"])

    def rebinding(host, port, **_kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    with receiver() as box:
        url = f"https://rebind.example.com:{box.port}/ok"
        check_target(url, allow_private=False, resolve=rebinding)  # passes when the subscription is made
        outcome = send(url, secret, allow_private=False, resolve=rebinding)

    assert outcome.error == "target_not_allowed"
    assert box.requests == []


def test_https_goes_to_the_vetted_address_with_the_name_in_sni_certificate_check_and_host(secret, tmp_path):
    name = "hooks.example.test"  # not in any DNS: only the vetted address can be reached
    server_tls, client_tls = self_signed(name, tmp_path)
    with receiver(tls=server_tls) as box:
        outcome = send(
            box.url("/ok", host=name, scheme="https"), secret, resolve=resolving_to("127.0.0.1"), ssl_context=client_tls
        )

    assert (outcome.status, outcome.error) == (200, None)
    assert box.server_names == [name]
    [got] = box.requests
    assert got.headers["host"] == f"{name}:{box.port}"
    Webhook(secret).verify(got.body, got.headers)


def test_a_certificate_for_another_name_is_refused(secret, tmp_path):
    server_tls, client_tls = self_signed("other.example.test", tmp_path)
    with receiver(tls=server_tls) as box:
        outcome = send(
            box.url("/ok", host="hooks.example.test", scheme="https"),
            secret,
            resolve=resolving_to("127.0.0.1"),
            ssl_context=client_tls,
        )

    assert (outcome.status, outcome.error) == (None, "connection_error")
    assert "hooks.example.test" in (outcome.detail or "")
    assert box.requests == []


def test_a_2xx_whose_body_stalls_still_counts_and_the_wait_ends_at_the_deadline(secret):
    with receiver() as box:
        started = time.monotonic()
        outcome = send(box.url("/stalled-body"), secret, timeout_s=1.0)
        waited = time.monotonic() - started

    assert (outcome.status, outcome.verdict) == (200, "succeeded")
    assert outcome.duration_ms < 1000
    assert waited < 1.5
