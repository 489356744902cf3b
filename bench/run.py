"""`make bench`: cold start, warm throughput, scale and connections, each as a ratio in one run.

Run from the repository root with its virtual environment: `python -m bench.run [--quick]`.
Prints the table and writes bench/results.json. Needs PostgreSQL on 127.0.0.1:5432 and Redis on
127.0.0.1:6379; creates its own database and cache prefix and removes both at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import stats
from bench.data import COMMON_TERM, PASSWORD, RARE_TERM, BenchDatabase
from bench.loadgen import LoadResult, http_request, run_load
from bench.servers import ROOT, ConnectionSampler, Server, terraform_sizing, terraform_threads

FUNCTIONS = ROOT / "functions"
FIXTURES = ROOT / "bench" / "functions"
RESULTS = ROOT / "bench" / "results.json"


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(), "platform": platform.platform()}


# -- cold start --------------------------------------------------------------------------------------


def cold_start(
    env: dict[str, str], probes: dict[str, tuple[str, dict[str, str]]], spawns: int, logs: Path
) -> dict[str, Any]:
    """Spawn to first 200, hello and ours alternating, `spawns` times each; medians and ratios."""
    threads = terraform_threads()
    out: dict[str, Any] = {}
    for name, (path, headers) in probes.items():
        hello_times, ours_times = [], []
        for _ in range(spawns):
            for which in ("hello", "ours"):
                if which == "hello":
                    server = Server(
                        FIXTURES / "hello" / "main.py",
                        "hello",
                        threads=threads[name],
                        env=env,
                        log=logs / "cold-hello.log",
                    )
                    probe, probe_headers = "/", {}
                else:
                    server = Server(
                        FUNCTIONS / name / "main.py",
                        name,
                        threads=threads[name],
                        env=env,
                        log=logs / f"cold-{name}.log",
                    )
                    probe, probe_headers = path, headers
                with server:
                    seconds = server.wait_for(probe, probe_headers)
                (hello_times if which == "hello" else ours_times).append(seconds)
        hello, ours = stats.median(hello_times), stats.median(ours_times)
        out[name] = {
            "hello_s": hello_times,
            "ours_s": ours_times,
            "hello_median_s": round(hello, 4),
            "ours_median_s": round(ours, 4),
            "ratio": round(stats.ratio(ours, hello), 3),
        }
    return out


_IMPORT = "import time, sys; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
_MAIN_MODULES = """
import importlib.util, json, sys, time
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("main", sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
seconds = time.perf_counter() - t
cloud = [m for m in ("google.cloud.sql.connector", "google.cloud.secretmanager", "aiohttp", "grpc") if m in sys.modules]
print(json.dumps({"seconds": seconds, "cloud_modules": cloud}))
"""


def imports(env: dict[str, str], repeats: int = 3) -> dict[str, Any]:
    """Import time of the Cloud-only clients on their own, and of each main.py (with what it pulled in)."""
    full_env = os.environ | env | {"PYTHONPATH": str(ROOT)}

    def timed(code: str, *args: str) -> list[str]:
        runs = [
            subprocess.run(
                [sys.executable, "-c", code, *args],
                env=full_env,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            ).stdout.strip()
            for _ in range(repeats)
        ]
        return runs

    cloud = {
        "cloud_sql_connector": "import google.cloud.sql.connector",
        "secret_manager": "from google.cloud import secretmanager",
    }
    out: dict[str, Any] = {}
    for name, stmt in cloud.items():
        out[name + "_s"] = round(stats.median([float(x) for x in timed(_IMPORT.format(stmt=stmt))]), 4)
    for name in ("auth", "releases", "health"):
        runs = [json.loads(x) for x in timed(_MAIN_MODULES, str(FUNCTIONS / name / "main.py"))]
        out[f"main_{name}_s"] = round(stats.median([r["seconds"] for r in runs]), 4)
        out[f"main_{name}_cloud_modules"] = runs[0]["cloud_modules"]
    return out


# -- warm throughput ---------------------------------------------------------------------------------


class Target:
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


def serve_and_load(
    server: Server,
    probe: tuple[str, dict[str, str]],
    targets: list[Target],
    db: BenchDatabase,
    *,
    seconds: float,
    warmup: float,
    connections: int,
) -> dict[str, Any]:
    """Start `server`, load it with each target in turn, and count the database sessions it opened."""
    results: dict[str, Any] = {}
    before = db.sessions()
    with server, ConnectionSampler(db.admin, db.name) as sampler:
        server.wait_for(*probe)
        offset = 0
        for target in targets:
            run_load(
                server.port,
                target.make,
                seconds=warmup,
                connections=connections,
                max_requests=max(1, target.budget // 10),
                expect=target.expect,
                start_at=offset,
            )
            offset += target.budget // 10 + 1
            result: LoadResult = run_load(
                server.port,
                target.make,
                seconds=seconds,
                connections=connections,
                max_requests=target.budget,
                expect=target.expect,
                start_at=offset,
            )
            offset += target.budget + 1
            results[target.name] = result.summary()
        time.sleep(1.5)  # PostgreSQL publishes session counts with up to a second's delay
        connections_info = {
            "sessions_opened": db.sessions() - before,
            "peak_connections": sampler.peak,
            "backends_seen": len(sampler.pids),
            "pool_size": server.threads,
            "pool_max": server.threads + 2,
        }
    for result in results.values():
        result["server"] = server.target
    return {"targets": results, "connections": connections_info}


def warm(
    db: BenchDatabase,
    env: dict[str, str],
    fixtures: dict[str, Any],
    *,
    seconds: float,
    warmup: float,
    connections: int,
    logs: Path,
) -> dict[str, Any]:
    threads = terraform_threads()
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
    plan: list[tuple[str, Path, str, int, tuple[str, dict[str, str]], list[Target]]] = [
        (
            "hello@4",
            FIXTURES / "hello" / "main.py",
            "hello",
            threads["health"],
            ("/", {}),
            [Target("hello (THREADS=4)", get("/"))],
        ),
        (
            "health",
            FUNCTIONS / "health" / "main.py",
            "health",
            threads["health"],
            ("/health", {}),
            [Target("GET /health", get("/health"), baseline="hello (THREADS=4)", goal=0.5)],
        ),
        (
            "hello@8",
            FIXTURES / "hello" / "main.py",
            "hello",
            threads["releases"],
            ("/", {}),
            [Target("hello (THREADS=8)", get("/"))],
        ),
        (
            "raw-cached",
            FIXTURES / "raw" / "main.py",
            "cached",
            threads["releases"],
            (f"/cached/{hits[0]}", {}),
            [Target("raw Redis read + JSON decode", rotate(lambda n: f"/cached/{hits[n % len(hits)]}"))],
        ),
        (
            "raw-pk",
            FIXTURES / "raw" / "main.py",
            "pk",
            threads["releases"],
            (f"/pk/{misses[-1]}", {}),
            [Target("raw primary-key read", rotate(lambda n: f"/pk/{misses[n % len(misses)]}"), budget=miss_budget)],
        ),
        (
            "raw-page",
            FIXTURES / "raw" / "main.py",
            "page",
            threads["releases"],
            ("/page", {}),
            [Target("raw page of 50", rotate(lambda n: f"/page?{after(n)}"))],
        ),
        (
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
        (
            "auth",
            FUNCTIONS / "auth" / "main.py",
            "auth",
            threads["auth"],
            ("/auth/me", token),
            [Target("POST /auth/login", lambda _n: login, baseline="hello (THREADS=8)")],
        ),
    ]
    out: dict[str, Any] = {"targets": {}, "connections": {}}
    for label, source, entry, n_threads, probe, targets in plan:
        server = Server(source, entry, threads=n_threads, env=env, log=logs / f"warm-{label}.log")
        measured = serve_and_load(server, probe, targets, db, seconds=seconds, warmup=warmup, connections=connections)
        out["connections"][label] = measured["connections"]
        for target in targets:
            row = measured["targets"][target.name]
            row["baseline"], row["goal"] = target.baseline, target.goal
            out["targets"][target.name] = row
        print(
            f"  warm {label}: " + ", ".join(f"{k} {v['rps']} req/s" for k, v in measured["targets"].items()), flush=True
        )
    for row in out["targets"].values():
        base = out["targets"].get(row["baseline"]) if row["baseline"] else None
        hello = out["targets"]["hello (THREADS=4)" if row["server"] == "health" else "hello (THREADS=8)"]
        row["ratio"] = round(stats.ratio(row["rps"], base["rps"]), 3) if base else None
        row["vs_hello"] = round(stats.ratio(row["rps"], hello["rps"]), 3)
    return out


# -- scale -------------------------------------------------------------------------------------------

SCALE_QUERIES: dict[str, dict[str, Any]] = {
    "list (newest first)": {},
    f"search, specific term (q={RARE_TERM})": {"q": RARE_TERM},
    f"search, common term in 1% (q={COMMON_TERM})": {"q": COMMON_TERM},
    "sorted by SemVer (sort=-version)": {"sort": "-version"},
    "one application by SemVer": {"application": "app-0042", "sort": "-version"},
}
# Not like for like, so shown without a target: one application has 1 release at 1,000 and 50 (a
# full page) at 100,000, so the page itself grows fiftyfold.
INFORMATIONAL = {"one application by SemVer"}


def scale_point(repeats: int) -> dict[str, Any]:
    """p50 of each list query through the service with the cache disabled, and its EXPLAIN plan."""
    import sqlalchemy as sa

    from shared.cache import Cache
    from shared.db import get_engine, unit_of_work
    from shared.releases import service

    no_cache = Cache(None)
    out: dict[str, Any] = {}
    for name, params in SCALE_QUERIES.items():
        captured: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            captured.append((statement, parameters))  # noqa: B023 - read right after this iteration's call

        sa.event.listen(get_engine(), "before_cursor_execute", capture)
        with unit_of_work(cache=no_cache) as work:
            service.list_releases(work, limit=50, **params)
        sa.event.remove(get_engine(), "before_cursor_execute", capture)
        statement, parameters = next((s, p) for s, p in captured if "FROM releases" in s)
        with get_engine().connect() as conn:
            plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)]
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            with unit_of_work(cache=no_cache) as work:
                service.list_releases(work, limit=50, **params)
            timings.append(time.perf_counter() - started)
        uses_index = any("Index" in line for line in plan)
        out[name] = {"p50_ms": round(stats.median(timings) * 1000, 3), "plan": plan, "uses_index": uses_index}
    return out


# -- the table ---------------------------------------------------------------------------------------


def report(results: dict[str, Any]) -> str:
    parts = []
    m = results["machine"]
    parts.append(
        f"Machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}; all figures are ratios measured in this run."
    )
    if "cold_start" in results:
        rows = []
        goals = {"health": 2.5, "auth": 3.0, "releases": 3.0}
        for name, row in results["cold_start"].items():
            rows.append(
                [
                    name,
                    row["hello_median_s"] * 1000,
                    row["ours_median_s"] * 1000,
                    row["ratio"],
                    f"<= {goals[name]}",
                    stats.verdict(row["ratio"], goals[name], at_least=False),
                ]
            )
        spawns = len(next(iter(results["cold_start"].values()))["hello_s"])
        parts.append(
            f"\nCold start, spawn to first 200 (median of {spawns} spawns each, alternating)\n"
            + stats.table(["function", "hello ms", "ours ms", "ratio", "target", ""], rows)
        )
        imp = results["imports"]
        parts.append(
            f"Cloud-only imports on their own: Cloud SQL connector {imp['cloud_sql_connector_s'] * 1000:.0f} ms, "
            f"Secret Manager {imp['secret_manager_s'] * 1000:.0f} ms. Import of main.py: "
            + ", ".join(
                f"{n} {imp[f'main_{n}_s'] * 1000:.0f} ms (Cloud modules: {imp[f'main_{n}_cloud_modules'] or 'none'})"
                for n in ("auth", "releases", "health")
            )
        )
    if "warm" in results:
        rows = []
        for name, row in results["warm"]["targets"].items():
            goal = row["goal"]
            rows.append(
                [
                    name,
                    row["rps"],
                    row["p50_ms"],
                    row["p99_ms"],
                    row["vs_hello"],
                    row["baseline"] or "",
                    row["ratio"] if row["ratio"] is not None else "",
                    f">= {goal}" if goal else "",
                    stats.verdict(row["ratio"], goal, at_least=True) if goal else "",
                ]
            )
        parts.append(
            "\nWarm throughput (functions-framework, gunicorn WORKERS=1 x THREADS as Terraform sets them)\n"
            + stats.table(["target", "req/s", "p50 ms", "p99 ms", "x hello", "baseline", "ratio", "target", ""], rows)
        )
        rows = [
            [
                label,
                c["pool_size"],
                c["sessions_opened"],
                c["peak_connections"],
                stats.verdict(float(c["sessions_opened"]), float(c["pool_size"]), at_least=False),
            ]
            for label, c in results["warm"]["connections"].items()
        ]
        parts.append(
            "\nConnections per instance over its whole load run (pg_stat_database / pg_stat_activity)\n"
            + stats.table(["instance", "pool (THREADS)", "sessions opened", "peak", "<= pool"], rows)
        )
    if "scale" in results:
        small, large = results["scale"]["sizes"]
        rows = []
        for name in SCALE_QUERIES:
            a, b = results["scale"][str(small)][name], results["scale"][str(large)][name]
            r = stats.ratio(b["p50_ms"], a["p50_ms"])
            rows.append(
                [
                    name,
                    a["p50_ms"],
                    b["p50_ms"],
                    r,
                    "info" if name in INFORMATIONAL else "<= 1.5",
                    "" if name in INFORMATIONAL else stats.verdict(r, 1.5, at_least=False),
                    "yes" if b["uses_index"] else "NO",
                ]
            )
        parts.append(
            f"\nScale: p50 of each query with {small:,} and {large:,} releases (service, cache disabled)\n"
            + stats.table(["query", f"{small} ms", f"{large} ms", "ratio", "target", "", "index"], rows)
        )
    if "login" in results:
        lg = results["login"]
        parts.append(
            f"\nLogin hashing: Argon2id m={lg['memory_kib']} KiB t={lg['time_cost']} p={lg['parallelism']} "
            f"(OWASP minimum m=19456 t=2 p=1: {lg['owasp']}); {lg['concurrency']} concurrent logins need "
            f"{lg['peak_hash_mib']:.0f} MiB of the function's {lg['function_memory']}: {lg['fits']}"
        )
    return "\n".join(parts)


def login_budget() -> dict[str, Any]:
    from shared.auth import passwords

    sizing = terraform_sizing()["auth"]
    memory_mib = (
        int(sizing["memory"].removesuffix("Mi"))
        if sizing["memory"].endswith("Mi")
        else int(sizing["memory"].removesuffix("Gi")) * 1024
    )
    peak = passwords.ARGON2_MEMORY_KIB / 1024 * int(sizing["concurrency"])
    owasp = (
        passwords.ARGON2_MEMORY_KIB >= 19 * 1024
        and passwords.ARGON2_TIME_COST >= 2
        and passwords.ARGON2_PARALLELISM >= 1
    )
    return {
        "memory_kib": passwords.ARGON2_MEMORY_KIB,
        "time_cost": passwords.ARGON2_TIME_COST,
        "parallelism": passwords.ARGON2_PARALLELISM,
        "owasp": "met" if owasp else "MISSED",
        "concurrency": int(sizing["concurrency"]),
        "peak_hash_mib": peak,
        "function_memory": sizing["memory"],
        "fits": "met" if peak <= memory_mib / 2 else "MISSED",
    }


# -- main --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per warm target")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each warm target")
    parser.add_argument("--connections", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--spawns", type=int, default=5, help="cold-start spawns of each function (and of hello)")
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=30, help="runs of each scale query")
    parser.add_argument("--only", choices=["cold", "warm", "scale"], action="append", help="run only these parts")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 s loads, 2 spawns, 20,000 releases")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup, args.spawns, args.large, args.repeats = 2.0, 0.5, 2, 20_000, 10
    parts = set(args.only or ["cold", "warm", "scale"])
    results: dict[str, Any] = {
        "machine": machine(),
        "settings": vars(args),
        "started": time.strftime("%FT%TZ", time.gmtime()),
    }
    db = BenchDatabase()
    logs = Path(tempfile.mkdtemp(prefix="rm-bench-"))
    print(f"bench database {db.name}, cache prefix {db.cache_prefix}, server logs {logs}", flush=True)
    began = time.perf_counter()
    try:
        db.create()
        from shared.auth import tokens
        from shared.clock import utcnow
        from shared.settings import get_settings

        user = db.make_user("developer")
        token, _ = tokens.issue_access_token(
            get_settings(), user_id=user["id"], role=user["role"], auth_version=0, now=utcnow()
        )
        db.fill(args.small, user_id=str(user["id"]))
        if "scale" in parts:
            results["scale"] = {"sizes": [args.small, args.large], str(args.small): scale_point(args.repeats)}
            print(f"  scale {args.small}: done", flush=True)
        db.fill(args.large, user_id=str(user["id"]))
        if "scale" in parts:
            results["scale"][str(args.large)] = scale_point(args.repeats)
            print(f"  scale {args.large}: done", flush=True)
        fixtures = prepare(db, token=token, email=user["email"])
        env = db.environment()
        if "cold" in parts:
            auth = {"Authorization": f"Bearer {token}"}
            probes = {
                "health": ("/health", {}),
                "auth": ("/auth/me", auth),
                "releases": (f"/releases/{fixtures['hit_ids'][0]}", auth),
            }
            results["cold_start"] = cold_start(env, probes, args.spawns, logs)
            results["imports"] = imports(env)
            print("  cold start: done", flush=True)
        if "warm" in parts:
            from shared.db import reset_engine

            reset_engine()  # the bench's own connections are gone before sessions are counted
            results["warm"] = warm(
                db, env, fixtures, seconds=args.seconds, warmup=args.warmup, connections=args.connections, logs=logs
            )
        results["login"] = login_budget()
    finally:
        db.drop()
    results["elapsed_s"] = round(time.perf_counter() - began, 1)
    print()
    print(report(results))
    print(f"\n(total {results['elapsed_s']} s; results in {RESULTS.relative_to(ROOT)})")
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


def prepare(db: BenchDatabase, *, token: str, email: str) -> dict[str, Any]:
    """Release ids for cache hits (cached now) and misses (never read), and list positions."""
    import sqlalchemy as sa

    from shared.db import transaction, unit_of_work
    from shared.releases import service

    with transaction() as conn:
        ids = [str(r[0]) for r in conn.execute(sa.text("SELECT id FROM releases ORDER BY md5(id::text) LIMIT 40016"))]
        positions = [
            (r[0].isoformat(), str(r[1]))
            for r in conn.execute(sa.text("SELECT created_at, id FROM releases ORDER BY md5(id::text) DESC LIMIT 5000"))
        ]
    hits, misses = ids[:16], ids[16:]
    for release_id in hits:
        with unit_of_work() as work:
            service.get_release(work, release_id=uuid.UUID(release_id))
    return {"token": token, "email": email, "hit_ids": hits, "miss_ids": misses, "positions": positions}


if __name__ == "__main__":
    sys.exit(main())
