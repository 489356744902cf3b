"""Serving a function as Cloud Functions gen2 does: `functions-framework` (gunicorn, WORKERS x THREADS)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK = str(Path(sys.executable).parent / "functions-framework")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def terraform_sizing() -> dict[str, dict[str, str]]:
    """Each function's sizing as terraform/variables.tf sets it (memory, concurrency = THREADS)."""
    import hcl2

    with open(ROOT / "terraform" / "variables.tf") as handle:
        parsed = hcl2.load(handle)
    for block in parsed["variable"]:
        for name, spec in block.items():
            if name.strip('"') == "functions":
                defaults = spec["default"].items()
                return {fn.strip('"'): {k: str(v).strip('"') for k, v in size.items()} for fn, size in defaults}
    raise RuntimeError("terraform/variables.tf has no `functions` variable")


def terraform_threads() -> dict[str, int]:
    """THREADS per function as Terraform sets it (WORKERS is always 1 there)."""
    return {name: int(size["concurrency"]) for name, size in terraform_sizing().items()}


def get(port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 2.0) -> int:
    """The status of one GET to the local server (raises OSError while it is not listening)."""
    return send(port, "GET", path, headers, None, timeout=timeout)


def send(
    port: int, method: str, path: str, headers: dict[str, str] | None, body: bytes | None, *, timeout: float = 2.0
) -> int:
    """The status of one request to the local server (raises OSError while it is not listening)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class Server:
    """One `functions-framework --source S --target T` process on a free loopback port."""

    def __init__(
        self, source: Path, target: str, *, threads: int, env: dict[str, str], log: Path, path: Path = ROOT
    ) -> None:
        """`path` is the one folder on PYTHONPATH: the repository, or an unpacked deploy package."""
        self.source, self.target, self.threads = source, target, threads
        self.port = free_port()
        self.env = os.environ | env | {"WORKERS": "1", "THREADS": str(threads), "PYTHONPATH": str(path)}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def start(self) -> None:
        command = [
            FRAMEWORK,
            "--source",
            str(self.source),
            "--target",
            self.target,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.started = time.perf_counter()
            self.process = subprocess.Popen(
                command, env=self.env, cwd=self.source.parent, stdout=out, stderr=out, start_new_session=True
            )

    def wait_for(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        *,
        method: str = "GET",
        body: Callable[[], bytes] | None = None,
        ok: int = 200,
        timeout_s: float = 60.0,
    ) -> float:
        """Seconds from spawn to the first `ok` answer to `method path` (polling every 5 ms). `body`
        makes the request's body, again after every answer that was not `ok` (a refresh token is
        spent by the request that reached the server, whatever it answered)."""
        deadline = time.perf_counter() + timeout_s
        payload = body() if body is not None else None
        while time.perf_counter() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.target} exited with {self.process.returncode}; see {self.log}")
            try:
                status = send(self.port, method, path, headers, payload)
            except OSError:
                time.sleep(0.005)
                continue
            if status == ok:
                return time.perf_counter() - self.started
            payload = body() if body is not None else None
            time.sleep(0.005)
        raise TimeoutError(f"{self.target} gave no {ok} to {method} {path} within {timeout_s} s; see {self.log}")

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.process = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()


class ConnectionSampler:
    """Peak backends on one database and every backend pid seen, sampled from pg_stat_activity."""

    def __init__(self, admin: sa.Engine, database: str, *, every_s: float = 0.02, limit_s: float = 600) -> None:
        self.admin, self.database, self.every_s, self.limit_s = admin, database, every_s, limit_s
        self.peak = 0
        self.pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit_s
        query = sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :d AND backend_type = 'client backend'")
        with self.admin.connect() as conn:
            while not self._stop.is_set() and time.monotonic() < deadline:
                pids = [row[0] for row in conn.execute(query, {"d": self.database})]
                self.peak = max(self.peak, len(pids))
                self.pids.update(pids)
                self._stop.wait(self.every_s)

    def __enter__(self) -> ConnectionSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
