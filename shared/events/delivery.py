"""Sending one webhook delivery: a signed POST to a vetted address, bounded in time, never redirected.

urllib3 (already in the runtime through google-api-core → requests) lets us connect to the vetted
IP address while TLS still sends and verifies the host's name (SNI, certificate) and the Host
header carries it. It reads no proxy settings and follows no redirect unless told to. A watchdog
closes the socket at the deadline, so a receiver that trickles its answer can't hold us past it.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.events import rules, signing
from shared.events.targets import Resolver, Target, TargetNotAllowed, check_target
from shared.platform.clock import utcnow

if TYPE_CHECKING:
    from urllib3.connection import HTTPConnection

CONNECT_TIMEOUT_S = 3.0
TOTAL_TIMEOUT_S = 10.0
USER_AGENT = "ReleaseManager-Webhooks/1.0"
RESPONSE_EXCERPT_BYTES = 1024  # kept for the delivery log; the rest of an answer is not read


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: the receiver's status (None without an answer), how long it took, and
    why there was no answer (`timeout`, `connection_error`, `target_not_allowed`)."""

    status: int | None
    duration_ms: int
    error: str | None = None
    detail: str | None = None
    response_excerpt: str = ""

    @property
    def verdict(self) -> rules.Verdict:
        return rules.verdict(self.status)


def send(
    *,
    url: str,
    secret: str,
    message_id: str,
    body: bytes,
    allow_private: bool,
    now: datetime | None = None,
    resolve: Resolver = socket.getaddrinfo,
    timeout_s: float = TOTAL_TIMEOUT_S,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ssl_context: ssl.SSLContext | None = None,
) -> Outcome:
    """Deliver one event: vet `url` again (its host resolved once, here), sign `body` for this
    attempt and POST it to a vetted address. Never raises for what the receiver does."""
    started = time.monotonic()
    try:
        target = check_target(url, allow_private=allow_private, resolve=resolve)
    except TargetNotAllowed as refused:
        return Outcome(None, _ms(started), "target_not_allowed", refused.reason)
    request_headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Host": target.host_header,
        **signing.headers(secret=secret, message_id=message_id, body=body, timestamp=now or utcnow()),
    }
    return post(
        target,
        body=body,
        headers=request_headers,
        timeout_s=timeout_s,
        connect_timeout_s=connect_timeout_s,
        ssl_context=ssl_context,
        started=started,
    )


def post(
    target: Target,
    *,
    body: bytes,
    headers: Mapping[str, str],
    timeout_s: float = TOTAL_TIMEOUT_S,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ssl_context: ssl.SSLContext | None = None,
    started: float | None = None,
) -> Outcome:
    """POST `body` to the target's first vetted address, within `timeout_s` in all."""
    started = time.monotonic() if started is None else started
    deadline = started + timeout_s
    # Imported here, not at the top: only sending needs the HTTP client, and the releases function
    # loads this module on every cold start (about 20 ms saved there).
    from urllib3.connection import HTTPConnection, HTTPSConnection

    address = str(target.addresses[0])
    conn: HTTPConnection
    if target.scheme == "https":
        conn = HTTPSConnection(
            address,
            target.port,
            timeout=connect_timeout_s,
            server_hostname=target.host,
            assert_hostname=target.host,
            ssl_context=ssl_context or _default_context(),
        )
    else:
        conn = HTTPConnection(address, target.port, timeout=connect_timeout_s)
    watchdog: threading.Timer | None = None
    try:
        conn.connect()
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _cut, (conn,))
        watchdog.daemon = True
        watchdog.start()
        conn.timeout = max(0.001, deadline - time.monotonic())  # each read after this: no longer than what is left
        conn.request("POST", target.path, body=body, headers=dict(headers), preload_content=False)
        response = conn.getresponse()
        answered_ms = _ms(started)
        if time.monotonic() > deadline:
            return Outcome(None, answered_ms, "timeout", f"no answer within {timeout_s:g} s")
        return Outcome(response.status, answered_ms, response_excerpt=_excerpt(response))
    except Exception as error:  # noqa: BLE001 - whatever the network or the receiver did, it is an outcome
        if time.monotonic() >= deadline or _is_timeout(error):
            return Outcome(None, _ms(started), "timeout", f"no answer within {timeout_s:g} s")
        return Outcome(None, _ms(started), "connection_error", _describe(error))
    finally:
        if watchdog is not None:
            watchdog.cancel()
        conn.close()


def _excerpt(response: Any) -> str:
    """The start of the answer's body, for the delivery log; the status counts even if the body stalls."""
    try:
        return str(response.read(RESPONSE_EXCERPT_BYTES, decode_content=False).decode("utf-8", "replace"))
    except Exception:  # noqa: BLE001 - a body cut short (or by the deadline) changes nothing
        return ""


def _cut(conn: HTTPConnection) -> None:
    """The deadline passed: end the exchange (a blocked read returns at once)."""
    sock: Any = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the raw socket: safe under a TLS read in progress


def _is_timeout(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, TimeoutError) or type(seen).__name__.endswith("TimeoutError"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text[:300]


def _default_context() -> ssl.SSLContext:
    """The same trust store as the google libraries' own HTTP calls (certifi, through requests)."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
