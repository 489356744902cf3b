"""A bounded load run on loopback, then the invariants checked in SQL.

Several clients, each on its own thread and connection, create releases, finalize them, race
each other to deploy to the same stages and report outcomes, for LOAD_SECONDS (a few seconds in
`make test`, a minute in `make fuzz`). Afterwards: no duplicate versions, at most one active
deployment per application and environment, the audit chain verifies, every 2xx is in the
database.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.audit.service import verify_now
from shared.platform.db import get_engine
from tests.factories import as_role
from tests.servers import DevServer, call

SECONDS = float(os.environ.get("LOAD_SECONDS", "8"))
CLIENTS = int(os.environ.get("LOAD_CLIENTS", "6"))
APPLICATIONS = ["orders", "payments", "search"]
REPORT = Path(__file__).resolve().parents[2] / ".data" / "load-summary.json"


@pytest.fixture(scope="module")
def server(services) -> Iterator[str]:
    app = DevServer()
    yield app.base
    app.stop()


def client_loop(base: str, headers: dict[str, str], number: int, deadline: float, seen: dict) -> None:
    rng = random.Random(number)
    sequence = 0
    while time.monotonic() < deadline:
        sequence += 1
        application = rng.choice(APPLICATIONS)
        version = f"{number}.{sequence}.0"
        status, _, release = call(
            base,
            "POST",
            "/releases",
            {"application": application, "version": version, "title": version, "status": "ready"},
            headers,
        )
        seen["statuses"][status] += 1
        if status != 201:
            continue
        seen["releases"].append(release["id"])
        status, _, deployment = call(
            base, "POST", f"/releases/{release['id']}/deployments", {"environment": "dev"}, headers
        )
        seen["statuses"][status] += 1
        if status != 201:
            continue  # another client's deployment of this application is under way
        seen["deployments"].append(deployment["id"])
        for step in ("in_progress", rng.choice(["succeeded", "succeeded", "failed"])):
            status, _, _ = call(
                base, "PATCH", f"/releases/{release['id']}/deployments/{deployment['id']}", {"status": step}, headers
            )
            seen["statuses"][status] += 1


def test_invariants_hold_after_a_bounded_load_run(server):
    _, headers = as_role("developer")
    seen: dict = {"statuses": Counter(), "releases": [], "deployments": []}
    deadline = time.monotonic() + SECONDS
    threads = [threading.Thread(target=client_loop, args=(server, headers, n, deadline, seen)) for n in range(CLIENTS)]
    [t.start() for t in threads]
    [t.join(timeout=SECONDS + 60) for t in threads]

    with get_engine().connect() as conn:
        duplicates = conn.scalar(
            sa.text("SELECT count(*) FROM (SELECT 1 FROM releases GROUP BY application, version HAVING count(*) > 1) d")
        )
        over_active = conn.scalar(
            sa.text(
                "SELECT count(*) FROM (SELECT 1 FROM deployments "
                "WHERE status IN ('pending_approval', 'queued', 'in_progress') "
                "GROUP BY application, environment HAVING count(*) > 1) d"
            )
        )
        stored_releases = set(map(str, conn.scalars(sa.text("SELECT id FROM releases"))))
        stored_deployments = set(map(str, conn.scalars(sa.text("SELECT id FROM deployments"))))
        chain = verify_now(conn)

    summary = {
        "seconds": SECONDS,
        "clients": CLIENTS,
        "requests": sum(seen["statuses"].values()),
        "statuses": {str(k): v for k, v in sorted(seen["statuses"].items())},
        "releases_created": len(seen["releases"]),
        "deployments_created": len(seen["deployments"]),
        "audit_events_verified": chain["checked"],
    }
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(summary, indent=1))
    assert not any(status >= 500 for status in seen["statuses"]), summary
    assert seen["releases"] and seen["deployments"], summary
    assert duplicates == 0
    assert over_active == 0
    assert set(seen["releases"]) <= stored_releases
    assert set(seen["deployments"]) <= stored_deployments
    assert chain["ok"], chain
