"""Publishing events to Pub/Sub (PUBSUB_TOPIC), for consumers that would rather pull than be called.

The client library is imported on first publish only: it costs about half a second of import,
which a cold start without PUBSUB_TOPIC should not pay. `PUBSUB_EMULATOR_HOST` points it at an
emulator (or a test's stand-in) the usual way.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from typing import Any

from shared.errors import Unavailable
from shared.events.formats import to_json
from shared.events.payload import about
from shared.platform.settings import get_settings

PUBLISH_TIMEOUT_S = 10.0
_ATTRIBUTES = ("type", "application", "environment", "release_id", "deployment_id")


def attributes(event: Mapping[str, Any]) -> dict[str, str]:
    """`type`, `application`, `environment`, `release_id`, `deployment_id`, leaving out empty ones
    (subscriptions filter on them: `attributes.type = "deployment.failed"`)."""
    facts = about(event)
    values = {name: getattr(facts, name) for name in _ATTRIBUTES}
    return {name: value for name, value in values.items() if value}


def ordering_key(event: Mapping[str, Any]) -> str:
    """`application/environment`: one application's events in one environment arrive in order."""
    found = attributes(event)
    if not found.get("application") and not found.get("environment"):
        return ""
    return f"{found.get('application', '')}/{found.get('environment', '')}"


@functools.cache
def publisher() -> Any:
    """The instance's publisher (message ordering on), built on first use."""
    from google.cloud.pubsub_v1 import PublisherClient, types

    return PublisherClient(publisher_options=types.PublisherOptions(enable_message_ordering=True))


def publish(event: Mapping[str, Any], *, topic: str | None = None, timeout_s: float = PUBLISH_TIMEOUT_S) -> str | None:
    """Publish one event (the standard JSON as data) to `topic`, by default PUBSUB_TOPIC; wait at most
    `timeout_s` for Pub/Sub to accept it. Returns the message id, or None when no topic is set.
    Raises Unavailable (`pubsub_unavailable`) when Pub/Sub did not take it: the caller retries."""
    topic = topic or get_settings().pubsub_topic_path
    if not topic:
        return None
    client = publisher()
    key = ordering_key(event)
    body = to_json({k: event[k] for k in ("id", "type", "timestamp", "data")})
    try:
        future = client.publish(topic, body, ordering_key=key, **attributes(event))
        return str(future.result(timeout=timeout_s))
    except Exception as error:  # any failure of the client means "not published"
        if key:
            # A publish that failed for good pauses its key (publishing to it raises at once): resume it
            # so the caller's retry and later events go. One only timed out is not paused, still in flight.
            with contextlib.suppress(RuntimeError):
                client.resume_publish(topic, key)
        raise Unavailable("Pub/Sub did not accept the event.", code="pubsub_unavailable", retry_after=10) from error
