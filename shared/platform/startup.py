"""What every instance does once, first, when it imports `shared`.

redis-py 8 imports the OpenTelemetry SDK whenever it is installed (google-cloud-pubsub installs it)
to offer metrics we never turn on: about 30 ms of every cold start, a quarter of importing redis.
`import_redis()` imports redis with those modules hidden, so redis finds them absent (as it would
if they were not installed) and leaves its metrics off; they are visible again right after, for
whoever does use them (the Pub/Sub client, when events are published).
"""

from __future__ import annotations

import sys

# What redis.observability tries to import; hiding the top package is enough, the rest is belt and braces.
_REDIS_OPTIONAL = ("opentelemetry", "opentelemetry.metrics", "opentelemetry.sdk", "opentelemetry.sdk.metrics")


def import_redis() -> None:
    """Import redis without its optional OpenTelemetry metrics (a no-op if redis is already loaded)."""
    if "redis" in sys.modules:
        return
    hidden = [name for name in _REDIS_OPTIONAL if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import name` now raises ImportError
    try:
        import redis  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
