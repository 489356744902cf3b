"""`make bench`: cold start, warm throughput, scale, connections and latencies, each as a ratio in one run.

Run from the repository root with its virtual environment: `python -m bench.run [--quick]`.
Prints the table and writes bench/results.json. Needs PostgreSQL on 127.0.0.1:5432 and Redis on
127.0.0.1:6379; creates its own database and cache prefix and removes both at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.cold_start import (
    cloud_environment,
    cold_start,
    imports,
    unpacked_packages,
    where_the_time_goes,
    with_secret_reference,
)
from bench.console import console_pages
from bench.data import BenchDatabase
from bench.fixtures import cache_hits, cold_probes, prepare
from bench.hot_profile import hot_profile
from bench.latencies import cli_start, event_delivery
from bench.login_budget import login_budget
from bench.report import RELEASE, release_figures, report
from bench.scale import scale_point
from bench.servers import ROOT
from bench.throughput import warm

RESULTS = ROOT / "bench" / "results.json"


def machine() -> dict[str, Any]:
    """Cores, CPU model and Python of this host, so a results.json says where it was measured."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(), "platform": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per warm target")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each warm target")
    parser.add_argument("--connections", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--spawns", type=int, default=5, help="cold-start spawns of each function (and of hello)")
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=30, help="runs of each scale query")
    parser.add_argument(
        "--only",
        choices=["cold", "warm", "scale", "latency", "console"],
        action="append",
        help="run only these parts",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 s loads, 2 spawns, 20,000 releases")
    parser.add_argument(
        "--against",
        metavar="REVISION",
        help="also measure that git revision's packages, in turn with these, in the same cold-start run",
    )
    parser.add_argument(
        "--record-release",
        metavar="VERSION",
        help="keep this run's cold-start ratios in bench/release.json, the figures later runs are held to",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup, args.spawns, args.large, args.repeats = 2.0, 0.5, 2, 20_000, 10
    parts = set(args.only or ["cold", "warm", "scale", "latency", "console"])
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
        from shared.platform.clock import utcnow
        from shared.platform.settings import get_settings

        def token_of(account: dict[str, Any]) -> str:
            issued, _ = tokens.issue_access_token(
                get_settings(), user_id=account["id"], role=account["role"], auth_version=0, now=utcnow()
            )
            return str(issued)

        user = db.make_user("developer")
        token = token_of(user)
        # Scale is measured at the small size before the table grows to the large one.
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
            probes = cold_probes(token, str(user["id"]), fixtures["hit_ids"][0])
            with unpacked_packages(args.against) as folders:
                results["cold_start"] = cold_start(env, probes, args.spawns, logs, folders)
                print("  cold start, local path: done", flush=True)
                with cloud_environment(env, database=db.name, user=db.user) as (cloud, sql):
                    results["cold_start_cloud"] = cold_start(cloud, probes, args.spawns, logs, folders, label="cloud")
                    from shared.platform.settings import DEV_JWT_SECRET

                    secret = with_secret_reference(cloud, sql, jwt_secret=DEV_JWT_SECRET)
                    results["cold_start_cloud_sm"] = cold_start(
                        secret, {"auth": probes["auth"]}, args.spawns, logs, folders, label="cloud-sm"
                    )
                    results["cloud_requests"] = dict(sql.apis.requests)
                print("  cold start, Cloud path: done", flush=True)
                results["imports"] = imports(env, folders)
                results["cold_start_profile"] = where_the_time_goes(env, probes, folders)
        if "warm" in parts:
            from shared.platform.db import reset_engine

            cache_hits(fixtures["hit_ids"])
            reset_engine()  # the bench's own connections are gone before sessions are counted
            results["warm"] = warm(
                db, env, fixtures, seconds=args.seconds, warmup=args.warmup, connections=args.connections, logs=logs
            )
        if "warm" in parts:
            results["hot_profile"] = hot_profile(fixtures)
        if "latency" in parts:
            admin = {"Authorization": f"Bearer {token_of(db.make_user('admin'))}"}
            results["latency"] = {
                "cli_help": cli_start(args.spawns * 2),
                "event_delivery": event_delivery(admin, {"Authorization": f"Bearer {token}"}),
            }
            print("  latencies: done", flush=True)
        if "console" in parts:
            results["console"] = console_pages(db, token_of, repeats=args.repeats)
            print("  console: done", flush=True)
        results["login"] = login_budget()
    finally:
        db.drop()
    results["elapsed_s"] = round(time.perf_counter() - began, 1)
    print()
    print(report(results))
    print(f"\n(total {results['elapsed_s']} s; results in {RESULTS.relative_to(ROOT)})")
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if args.record_release:
        figures = release_figures(results, version=args.record_release, measured=time.strftime("%Y-%m-%d"))
        RELEASE.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
