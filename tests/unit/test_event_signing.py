"""Webhook signatures, each verified by the Standard Webhooks reference library as a receiver would."""

import base64
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from shared.events import signing
from shared.platform.clock import utcnow

BODY = '{"id":"e1","type":"release.ready","data":{"notes":"Grüße & <b>"}}'.encode()


def test_a_new_secret_is_whsec_and_base64_of_32_random_bytes():
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert signing.is_secret(secret)
    assert secret != signing.new_secret()


@pytest.mark.parametrize(
    "value", ["", "whsec_", "whsec_!!!not-base64", "whsec_" + base64.b64encode(b"short").decode(), "sk_abc"]
)
def test_malformed_secrets_are_not_secrets(value):
    assert not signing.is_secret(value)


def test_a_receiver_verifies_our_signature_with_the_reference_library():
    secret = signing.new_secret()
    headers = signing.headers(secret=secret, message_id="e1", body=BODY, timestamp=utcnow())

    assert Webhook(secret).verify(BODY, headers) == {
        "id": "e1",
        "type": "release.ready",
        "data": {"notes": "Grüße & <b>"},
    }
    assert headers["webhook-id"] == "e1"
    assert headers["webhook-signature"].startswith("v1,")


def test_the_signature_does_not_verify_with_another_secret_or_a_changed_body():
    secret = signing.new_secret()
    headers = signing.headers(secret=secret, message_id="e1", body=BODY, timestamp=utcnow())

    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"ready", b"cancelled"), headers)


def test_the_timestamp_is_the_attempts_in_unix_seconds_so_old_replays_are_refused():
    secret = signing.new_secret()
    then = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
    headers = signing.headers(secret=secret, message_id="e1", body=BODY, timestamp=then)

    assert headers["webhook-timestamp"] == str(int(then.timestamp()))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, headers)


def test_a_timestamp_in_another_zone_signs_the_same_instant():
    secret = signing.new_secret()
    now = utcnow()
    local = now.astimezone(ZoneInfo("America/New_York"))
    headers = signing.headers(secret=secret, message_id="e1", body=BODY, timestamp=local)

    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    Webhook(secret).verify(BODY, headers)


def test_a_retry_keeps_the_id_and_signs_afresh():
    secret = signing.new_secret()
    first = signing.headers(secret=secret, message_id="e1", body=BODY, timestamp=utcnow() - timedelta(seconds=90))
    retry = signing.headers(secret=secret, message_id="e1", body=BODY, timestamp=utcnow())

    assert first["webhook-id"] == retry["webhook-id"]
    assert first["webhook-signature"] != retry["webhook-signature"]
    Webhook(secret).verify(BODY, retry)
