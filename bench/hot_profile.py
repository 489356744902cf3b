"""Where a warm request's time goes: the releases function in-process (functions-framework's
WSGI app called with environs built beforehand: no HTTP server, no test client in the profile),
`cProfile` over a few hundred requests, self time summed by package. Printed by `make bench`
beside the hot-path ratios, so a missed target comes with the profile that explains it;
`python -m bench.profile` gives the full call tree of one path."""

from __future__ import annotations

import cProfile
import pstats
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.fixtures import FUNCTIONS

_SITE = re.compile(r"site-packages/([^/]+)")
_OURS = re.compile(r"/(shared/platform/[^/]+|shared/[^/]+|functions/[^/]+)")  # the platform by part: db, cache, ...
_STDLIB = re.compile(r"/python3\.\d+/([^/]+?)(?:\.py|/)")


def package_of(filename: str, function: str) -> str:
    """The package a profiled function belongs to: ours by concept, a library by name, the
    standard library as `stdlib:<module>`, and built-ins waiting on a socket as `socket I/O`."""
    if filename == "~":
        waits = ("recv", "send", "select", "poll", "connect")
        return "socket I/O" if "socket" in function and any(w in function for w in waits) else "built-ins"
    if match := _SITE.search(filename):
        return match.group(1).removesuffix(".py")
    if match := _OURS.search(filename):
        return match.group(1).removesuffix(".py").replace("/", ".")
    if match := _STDLIB.search(filename):
        return f"stdlib:{match.group(1)}"
    return filename


def profile_requests(app: Callable[..., Any], environs: list[dict[str, Any]]) -> dict[str, Any]:
    """Self time per package over one call of the WSGI `app` per environ (each must answer 200)."""
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    profiler = cProfile.Profile()
    profiler.enable()
    for environ in environs:
        b"".join(app(environ, start_response))
    profiler.disable()
    refused = [status for status in statuses if not status.startswith("200")]
    if refused:
        raise RuntimeError(f"profiled requests answered {refused[:3]}")
    requests = len(environs)
    grouped: Counter[str] = Counter()
    for (filename, _, function), row in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        grouped[package_of(filename, function)] += row[2]  # tottime: time in the function itself
    total = sum(grouped.values())
    return {
        "per_request_ms": round(total / requests * 1000, 3),
        "share": {name: round(seconds / total, 3) for name, seconds in grouped.most_common(8)},
    }


def hot_profile(fixtures: dict[str, Any], *, requests: int = 300) -> dict[str, Any]:
    """A cache hit and a forced miss of `GET /releases/{id}`, profiled (misses use ids the load never asks for)."""
    import functions_framework
    from werkzeug.test import EnvironBuilder

    app = functions_framework.create_app("releases", str(FUNCTIONS / "releases" / "main.py"))
    headers = {"Authorization": f"Bearer {fixtures['token']}"}

    def environs(ids: list[str]) -> list[dict[str, Any]]:
        return [EnvironBuilder(path=f"/releases/{i}", headers=headers).get_environ() for i in ids]

    hit, unread = fixtures["hit_ids"][0], fixtures["miss_ids"][-(requests + 5) :]
    warm_up = environs([hit] * 5 + unread[requests:])  # first requests build what an instance builds once
    profile_requests(app, warm_up)
    return {
        "cache hit": profile_requests(app, environs([hit] * requests)),
        "forced miss": profile_requests(app, environs(unread[:requests])),
    }
