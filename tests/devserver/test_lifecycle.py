"""`make dev` leaves no embedded PostgreSQL behind: stopped by Ctrl-C (SIGINT) or SIGTERM (an IDE's
stop button, a process manager, `kill`), or killed outright and then started and stopped again.
Real processes, each run with its own data directory (RM_DATA_DIR)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.servers import ROOT, DevServer, call, free_port

EMBEDDED = ("DATABASE_URL", "REDIS_URL", "CLOUD_SQL_INSTANCE")  # unset: the server starts its stand-ins


def start(data: Path) -> DevServer:
    return DevServer(unset=EMBEDDED, RM_DATA_DIR=str(data))


def postmaster(data: Path) -> psutil.Process:
    pid = int((data / "pg" / "postmaster.pid").read_text().split()[0])
    return psutil.Process(pid)


def postgres_processes(data: Path) -> list[psutil.Process]:
    """Every postgres process serving this data directory (what `ps` would show)."""
    pgdata = str((data / "pg").resolve())
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and pgdata in " ".join(process.info["cmdline"] or ()):
            found.append(process)
    return found


def wait_gone(processes: list[psutil.Process], timeout_s: float = 20) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=timeout_s)
    return alive


def stop_with(server: DevServer, signum: int) -> int:
    server.process.send_signal(signum)
    return server.process.wait(timeout=30)


@pytest.fixture
def data(tmp_path: Path):
    yield tmp_path
    for process in postgres_processes(tmp_path):  # never leave one behind, even when a test fails
        process.kill()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_dev_server_stops_its_embedded_postgres(data, signum):
    server = start(data)
    assert call(server.base, "GET", "/health")[0] == 200
    running = postmaster(data)

    assert stop_with(server, signum) == 0

    assert wait_gone([running]) == []
    assert postgres_processes(data) == []
    assert json.loads((data / "pg" / ".handle_pids.json").read_text()) == []


def test_after_a_kill_the_next_start_adopts_the_orphan_and_its_clean_stop_stops_it(data):
    killed = start(data)
    orphan = postmaster(data)
    killed.process.kill()  # SIGKILL: nothing in the process runs
    killed.process.wait(timeout=10)
    assert orphan.is_running()  # what a killed run leaves

    again = start(data)
    assert call(again.base, "GET", "/health")[0] == 200
    assert postmaster(data).pid == orphan.pid  # reused, not a second server on the same files
    assert stop_with(again, signal.SIGTERM) == 0

    assert wait_gone([orphan]) == []
    assert postgres_processes(data) == []
    assert json.loads((data / "pg" / ".handle_pids.json").read_text()) == []


def test_make_passes_sigterm_on_to_the_dev_server(data):
    """What an IDE's stop button does to `make dev`: SIGTERM to make itself."""
    chosen = free_port()
    env = {k: v for k, v in os.environ.items() if k not in EMBEDDED}
    env.update(PORT=str(chosen), RM_DATA_DIR=str(data), LOG_LEVEL="WARNING", ENVIRONMENT="test")
    make = subprocess.Popen(  # -o: take the virtual environment as installed (the suite runs in it)
        ["make", "--no-print-directory", "-o", ".venv/.installed", "dev"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if call(f"http://127.0.0.1:{chosen}", "GET", "/health")[0] == 200:
                break
        except OSError:
            assert make.poll() is None, make.stderr.read().decode() if make.stderr else "make exited"
            assert time.monotonic() < deadline, "make dev did not start"
            time.sleep(0.2)
    running = postmaster(data)

    make.send_signal(signal.SIGTERM)
    make.wait(timeout=30)

    assert wait_gone([running]) == []
    assert postgres_processes(data) == []
