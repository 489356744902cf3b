"""Cold start: spawn to first 200 of each function against hello, and what importing each main.py costs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import stats
from bench.fixtures import BASELINES, FUNCTIONS
from bench.servers import ROOT, Server, terraform_threads


def cold_start(
    env: dict[str, str], probes: dict[str, tuple[str, dict[str, str]]], spawns: int, logs: Path
) -> dict[str, Any]:
    """Spawn to first 200, hello and ours alternating, `spawns` times each; medians and ratios."""
    threads = terraform_threads()
    out: dict[str, Any] = {}
    for name, (path, headers) in probes.items():
        hello_times: list[float] = []
        ours_times: list[float] = []
        for _ in range(spawns):
            for which in ("hello", "ours"):
                if which == "hello":
                    server = Server(
                        BASELINES / "hello" / "main.py",
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
