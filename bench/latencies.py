"""What the tests do not time (a timed assertion in a test measures the machine's noise):

- `relman --help`, spawned, against a bare start of the same interpreter (`python -c pass`);
- how soon after its commit an event reaches a webhook receiver on loopback (the releases function
  in-process, its own dispatcher thread woken by the commit), against a plain POST of a body of the
  same size to the same receiver with the same HTTP library (urllib3).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench import stats
from bench.fixtures import FUNCTIONS


def cli_start(spawns: int) -> dict[str, Any]:
    """Median wall time of `relman --help` and of a bare interpreter start, alternating."""
    relman = Path(sys.executable).with_name("relman")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    bare: list[float] = []
    ours: list[float] = []
    for _ in range(spawns):
        for command, into in (([sys.executable, "-c", "pass"], bare), ([str(relman), "--help"], ours)):
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, env=env, check=True)
            into.append(time.perf_counter() - started)
    return {
        "baseline_median_s": stats.median(bare),
        "ours_median_s": stats.median(ours),
        "ratio": stats.ratio(stats.median(ours), stats.median(bare)),
    }


class _Arrivals:
    def __init__(self) -> None:
        self.at: list[float] = []
        self.sizes: list[int] = []
        self.arrived = threading.Condition()

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.at) >= count, timeout):
                raise RuntimeError(f"only {len(self.at)} of {count} deliveries arrived")


@contextmanager
def _receiver() -> Iterator[tuple[str, _Arrivals]]:
    arrivals = _Arrivals()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with arrivals.arrived:
                arrivals.at.append(time.perf_counter())
                arrivals.sizes.append(len(body))
                arrivals.arrived.notify_all()
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", arrivals
    finally:
        server.shutdown()
        server.server_close()


def _plain_posts(url: str, arrivals: _Arrivals, size: int, count: int) -> list[float]:
    """Send-to-arrival of a plain POST, one new connection each, as a delivery makes."""
    from urllib.parse import urlsplit

    from urllib3.connection import HTTPConnection

    target = urlsplit(url)
    took = []
    for _ in range(count):
        before = len(arrivals.at)
        conn = HTTPConnection(target.hostname, target.port, timeout=5)
        started = time.perf_counter()
        conn.request("POST", target.path, body=b"x" * size, headers={"Content-Type": "application/json"})
        arrivals.wait_for(before + 1)
        took.append(arrivals.at[before] - started)
        conn.getresponse().read()
        conn.close()
    return took


def event_delivery(admin: dict[str, str], developer: dict[str, str], count: int = 20) -> dict[str, Any]:
    """Commit-to-arrival of `release.created` (median of `count`) against a plain POST's send-to-arrival."""
    import functions_framework

    from shared.events import dispatch
    from shared.platform.settings import get_settings

    saved = {name: os.environ.get(name) for name in ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "LOG_LEVEL")}
    os.environ |= {"WEBHOOK_ALLOW_PRIVATE_TARGETS": "true", "LOG_LEVEL": "WARNING"}  # the receiver is on 127.0.0.1
    get_settings.cache_clear()
    committed: list[float] = []
    wake = dispatch.wake

    def timed_wake() -> None:  # called right after each commit
        committed.append(time.perf_counter())
        wake()

    dispatch.wake = timed_wake
    client = functions_framework.create_app("releases", str(FUNCTIONS / "releases" / "main.py")).test_client()
    try:
        with _receiver() as (url, arrivals):
            made = client.post(
                "/releases/subscriptions", json={"url": url, "events": ["release.created"]}, headers=admin
            )
            if made.status_code != 201:
                raise RuntimeError(f"subscription refused: {made.get_json()}")
            ours = []
            for n in range(count):
                body = {"application": "bench-events", "version": f"1.0.{n}", "title": "x", "status": "ready"}
                if client.post("/releases", json=body, headers=developer).status_code != 201:
                    raise RuntimeError("release refused")
                arrivals.wait_for(n + 1)
                ours.append(arrivals.at[n] - committed[-1])
            plain = _plain_posts(url, arrivals, size=int(stats.median(arrivals.sizes)), count=count)
    finally:
        dispatch.wake = wake
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value
        get_settings.cache_clear()
    return {
        "baseline_median_s": stats.median(plain),
        "ours_median_s": stats.median(ours),
        "ratio": stats.ratio(stats.median(ours), stats.median(plain)),
    }
