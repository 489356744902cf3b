"""Standard Webhooks 1.0 signing, with the reference library (a single pure-Python module, no dependencies)."""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes


def new_secret() -> str:
    """A fresh subscription secret: `whsec_` + base64 of 32 random bytes (shown to its owner once)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def is_secret(value: str) -> bool:
    """Is `value` a secret of ours: `whsec_` + base64 of 24 to 64 bytes?"""
    if not value.startswith(SECRET_PREFIX):
        return False
    try:
        key = base64.b64decode(value.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return False
    return 24 <= len(key) <= 64


def headers(*, secret: str, message_id: str, body: bytes, timestamp: datetime) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` (seconds) and `webhook-signature` (`v1,` + base64 HMAC-SHA256
    of `id.timestamp.body`) for one attempt. The id stays the event's on every retry; the timestamp is
    the attempt's, so receivers can refuse replays older than their tolerance."""
    moment = timestamp.astimezone(UTC)
    signature = Webhook(secret).sign(msg_id=message_id, timestamp=moment, data=body.decode())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }
