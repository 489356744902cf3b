"""What warm throughput measures: each server instance in turn, the targets loaded on it, and their baselines."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from bench.data import PASSWORD
from bench.fixtures import BASELINES, FUNCTIONS
from bench.loadgen import http_request


class Target:
    """One kind of request, its expected statuses and request budget, and the row it is compared against."""

    def __init__(
        self,
        name: str,
        make: Callable[[int], bytes],
        *,
        expect: tuple[int, ...] = (200,),
        budget: int = 1_000_000,
        baseline: str | None = None,
        goal: float | None = None,
    ) -> None:
        self.name, self.make, self.expect, self.budget = name, make, expect, budget
        self.baseline, self.goal = baseline, goal


class Instance(NamedTuple):
    """One server started for its targets: label, source and entry point, THREADS, readiness probe."""

    label: str
    source: Path
    entry: str
    threads: int
    probe: tuple[str, dict[str, str]]
    targets: list[Target]


def warm_plan(fixtures: dict[str, Any], threads: dict[str, int]) -> list[Instance]:
    """The instances in run order, each baseline served before the functions compared with it, at their THREADS."""
    token = {"Authorization": f"Bearer {fixtures['token']}"}
    hits, misses, positions = fixtures["hit_ids"], fixtures["miss_ids"], fixtures["positions"]
    json_headers = {"Content-Type": "application/json"}

    def get(path: str, headers: dict[str, str] | None = None) -> Callable[[int], bytes]:
        request = http_request("GET", path, headers=headers)
        return lambda _n: request

    def rotate(build: Callable[[int], str], headers: dict[str, str] | None = None) -> Callable[[int], bytes]:
        return lambda n: http_request("GET", build(n), headers=headers)

    def after(n: int) -> str:
        created_at, release_id = positions[n % len(positions)]
        return f"after={urllib.parse.quote(created_at)}&id={release_id}"

    def cursor(n: int) -> str:
        from shared.pagination import encode_cursor

        created_at, release_id = positions[n % len(positions)]
        return urllib.parse.quote(encode_cursor([created_at, release_id]))

    def post_release(n: int) -> bytes:
        body = json.dumps(
            {
                "application": "bench-post",
                "version": f"1.0.{n}",
                "title": f"bench {n}",
                "notes": "Created by the benchmark.",
            }
        ).encode()
        return http_request("POST", "/releases", headers=token | json_headers, body=body)

    login = http_request(
        "POST",
        "/auth/login",
        headers=json_headers,
        body=json.dumps({"email": fixtures["email"], "password": PASSWORD}).encode(),
    )
    miss_budget = len(misses) // 2  # distinct ids, so every request of the measured run misses
    return [
        Instance(
            "hello@4",
            BASELINES / "hello" / "main.py",
            "hello",
            threads["health"],
            ("/", {}),
            [Target("hello (THREADS=4)", get("/"))],
        ),
        Instance(
            "health",
            FUNCTIONS / "health" / "main.py",
            "health",
            threads["health"],
            ("/health", {}),
            [Target("GET /health", get("/health"), baseline="hello (THREADS=4)", goal=0.5)],
        ),
        Instance(
            "hello@8",
            BASELINES / "hello" / "main.py",
            "hello",
            threads["releases"],
            ("/", {}),
            [Target("hello (THREADS=8)", get("/"))],
        ),
        Instance(
            "raw-cached",
            BASELINES / "raw" / "main.py",
            "cached",
            threads["releases"],
            (f"/cached/{hits[0]}", {}),
            [Target("raw Redis read + JSON decode", rotate(lambda n: f"/cached/{hits[n % len(hits)]}"))],
        ),
        Instance(
            "raw-pk",
            BASELINES / "raw" / "main.py",
            "pk",
            threads["releases"],
            (f"/pk/{misses[-1]}", {}),
            [Target("raw primary-key read", rotate(lambda n: f"/pk/{misses[n % len(misses)]}"), budget=miss_budget)],
        ),
        Instance(
            "raw-page",
            BASELINES / "raw" / "main.py",
            "page",
            threads["releases"],
            ("/page", {}),
            [Target("raw page of 50", rotate(lambda n: f"/page?{after(n)}"))],
        ),
        Instance(
            "releases",
            FUNCTIONS / "releases" / "main.py",
            "releases",
            threads["releases"],
            (f"/releases/{hits[0]}", token),
            [
                Target(
                    "GET /releases/{id} (cache hit)",
                    rotate(lambda n: f"/releases/{hits[n % len(hits)]}", token),
                    baseline="raw Redis read + JSON decode",
                    goal=0.8,
                ),
                Target(
                    "GET /releases/{id} (forced miss)",
                    rotate(lambda n: f"/releases/{misses[n % len(misses)]}", token),
                    budget=miss_budget,
                    baseline="raw primary-key read",
                    goal=0.8,
                ),
                Target(
                    "GET /releases?limit=50 (cache hit)", get("/releases?limit=50", token), baseline="raw page of 50"
                ),
                Target(
                    "GET /releases?limit=50 (forced miss)",
                    rotate(lambda n: f"/releases?limit=50&cursor={cursor(n)}", token),
                    baseline="raw page of 50",
                    goal=0.8,
                ),
                Target("POST /releases", post_release, expect=(201,), baseline="hello (THREADS=8)"),
            ],
        ),
        Instance(
            "auth",
            FUNCTIONS / "auth" / "main.py",
            "auth",
            threads["auth"],
            ("/auth/me", token),
            [Target("POST /auth/login", lambda _n: login, baseline="hello (THREADS=8)")],
        ),
    ]
