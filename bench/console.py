"""The console's pages against the API's JSON for the same data, in one process and one run: the
matrix of 200 applications by 4 environments (a page of 25 each way) against `GET /releases/matrix`,
and the approvals inbox (20 deployments waiting) against `GET /releases/approval-requests`, the
read both share; server time as a ratio (target <= 1.5 x each)."""

from __future__ import annotations

import time
from typing import Any

from bench import stats
from bench.data import PASSWORD
from bench.servers import ROOT

GOAL = 1.5
APPLICATIONS, WAITING = 200, 20


def _client(name: str) -> Any:
    import functions_framework

    return functions_framework.create_app(name, str(ROOT / "functions" / name / "main.py")).test_client()


def _ok(answer: Any, status: int = 200) -> Any:
    if answer.status_code != status:
        raise RuntimeError(f"{answer.request.path}: {answer.status_code} {answer.get_data(as_text=True)[:300]}")
    return answer


def seed(releases: Any, developer: dict[str, str], manager: dict[str, str], admin: dict[str, str]) -> None:
    """A fourth environment, 200 applications live in all four (production approved) and 20 of them
    with a newer release waiting for approval in production."""
    _ok(releases.put("/releases/environments/edge", json={"position": 4}, headers=admin), 201)
    for n in range(APPLICATIONS):
        app = f"bench-app-{n:03d}"
        made = _ok(
            releases.post(
                "/releases",
                json={"application": app, "version": "1.0.0", "title": f"{app} 1.0.0", "status": "ready"},
                headers=developer,
            ),
            201,
        ).get_json()
        for environment in ("dev", "staging", "production", "edge"):
            _ship(releases, made["id"], environment, developer, manager)
        if n < WAITING:
            newer = _ok(
                releases.post(
                    "/releases",
                    json={
                        "application": app,
                        "version": "1.1.0",
                        "title": f"{app} 1.1.0",
                        "status": "ready",
                        "notes": "Faster.\n\nMore details.",
                    },
                    headers=developer,
                ),
                201,
            ).get_json()
            for environment in ("dev", "staging"):
                _ship(releases, newer["id"], environment, developer, manager)
            body = {"environment": "production"}
            _ok(releases.post(f"/releases/{newer['id']}/deployments", json=body, headers=developer), 201)


def _ship(releases: Any, release_id: str, environment: str, developer: dict[str, str], manager: dict[str, str]) -> None:
    path = f"/releases/{release_id}/deployments"
    made = _ok(releases.post(path, json={"environment": environment}, headers=developer), 201).get_json()
    if made["status"] == "pending_approval":
        _ok(releases.post(f"{path}/{made['id']}/approvals", json={"decision": "approve"}, headers=manager), 201)
    for status in ("in_progress", "succeeded"):
        _ok(releases.patch(f"{path}/{made['id']}", json={"status": status}, headers=developer))


def _timed(baseline: Any, ours: Any, repeats: int) -> tuple[list[float], list[float]]:
    """Each call's times, taken in turns (one of each per round) so that the machine's noise falls
    on both alike."""
    baseline(), ours()  # warm: templates compiled, connections open
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for call, kept in ((baseline, times[0]), (ours, times[1])):
            began = time.perf_counter()
            call()
            kept.append(time.perf_counter() - began)
    return times


def console_pages(db: Any, token_of: Any, *, repeats: int = 30) -> dict[str, Any]:
    """Median server time of each console page against the API call that returns the same data."""
    people = {role: db.make_user(role, name=f"console-{role}") for role in ("developer", "release_manager", "admin")}
    headers = {role: {"Authorization": f"Bearer {token_of(user)}"} for role, user in people.items()}
    releases, console = _client("releases"), _client("console")
    seed(releases, headers["developer"], headers["release_manager"], headers["admin"])
    signed = console.post("/console/login", data={"email": people["release_manager"]["email"], "password": PASSWORD})
    _ok(signed, 302)
    api = headers["release_manager"]
    pairs = {
        "matrix (25 of 200 applications x 4 environments)": (
            lambda: _ok(releases.get("/releases/matrix?limit=25", headers=api)),
            lambda: _ok(console.get("/console/")),
        ),
        f"approvals inbox ({WAITING} waiting)": (
            lambda: _ok(releases.get("/releases/approval-requests?limit=100", headers=api)),
            lambda: _ok(console.get("/console/approvals")),
        ),
    }
    out = {}
    for name, (baseline, ours) in pairs.items():
        base, mine = (stats.median(times) for times in _timed(baseline, ours, repeats))
        out[name] = {
            "api_ms": round(base * 1000, 2),
            "console_ms": round(mine * 1000, 2),
            "ratio": stats.ratio(mine, base),
        }
    return out
