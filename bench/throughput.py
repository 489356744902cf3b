"""Warm throughput: each instance of the plan served and loaded in turn, its sessions counted, ratios taken."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench import stats
from bench.data import BenchDatabase
from bench.loadgen import LoadResult, run_load
from bench.servers import ConnectionSampler, Server, terraform_threads
from bench.throughput_plan import Target, warm_plan


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
    for summary in results.values():
        summary["server"] = server.target
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
    """Every target's req/s and latencies, its ratio to its baseline and to hello, and each instance's sessions."""
    plan = warm_plan(fixtures, terraform_threads())
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
