"""Cold start in the shape Cloud runs it: each function from its deploy package, against hello.

`make package` builds the zips; each is unpacked into a fresh folder made read-only (as the
platform's source is), and served by `functions-framework --source main.py` from that folder in a
fresh interpreter, with only that folder on the path: no bytecode but what the package ships, and
none can be written. Two paths:

- local: PostgreSQL and Redis over TCP, as the tests run;
- cloud: the real Cloud SQL connector (Admin API, ephemeral certificate, TLS to the server-side
  proxy) against the local stand-ins of `tests/google_apis.py`, with IAM database login as
  Terraform sets it; and a variant whose JWT key is an `sm://` reference, read at start by the real
  Secret Manager client (Terraform hands secrets over as variables, so production has no such read).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import stats
from bench.fixtures import BASELINES
from bench.servers import ROOT, Server, terraform_threads


@dataclass(frozen=True)
class Probe:
    """The first request a new instance of `function` serves, and the answer that ends its cold start."""

    function: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    # A fresh body for each attempt that reached the server (a new version, an unspent refresh token).
    body: Callable[[], bytes] | None = None
    ok: int = 200


Probes = dict[str, Probe]


def _read_only(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _writable(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def _package(tree: Path, dist: Path, folders: dict[str, Path], *, suffix: str = "") -> None:
    """`tree`'s functions packaged as `make package` does, each unpacked into its own folder."""
    command = [sys.executable, str(tree / ".ci" / "package.py"), "--dist", str(dist)]
    subprocess.run(command, check=True, capture_output=True, cwd=tree)
    for name, entry in json.loads((dist / "manifest.json").read_text())["functions"].items():
        folders[name + suffix] = dist.parent / (name + suffix)
        zipfile.ZipFile(dist / entry["object"]).extractall(folders[name + suffix])


@contextlib.contextmanager
def unpacked_packages(against: str | None = None) -> Iterator[dict[str, Path]]:
    """Each function's package (and hello) unpacked into its own read-only folder; with `against`
    (a git revision), that revision's packages too, as `NAME@before`, to measure in the same run."""
    work = Path(tempfile.mkdtemp(prefix="rm-packages-"))
    try:
        folders: dict[str, Path] = {}
        _package(ROOT, work / "dist", folders)
        if against is not None:
            tree = work / "before-tree"
            tree.mkdir()
            archive = subprocess.run(["git", "archive", against], cwd=ROOT, check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
            _package(tree, work / "dist-before", folders, suffix=BEFORE)
        folders["hello"] = work / "hello"
        shutil.copytree(BASELINES / "hello", folders["hello"], ignore=shutil.ignore_patterns("__pycache__"))
        for folder in folders.values():
            _read_only(folder)
        yield folders
    finally:
        _writable(work)
        shutil.rmtree(work, ignore_errors=True)


BEFORE = "@before"


def cold_start(
    env: dict[str, str], probes: Probes, spawns: int, logs: Path, folders: dict[str, Path], *, label: str = "local"
) -> dict[str, Any]:
    """Spawn to first 200, hello and ours alternating, `spawns` times each; medians and ratios."""
    threads = terraform_threads()
    out: dict[str, Any] = {}
    kinds = ("hello", "ours", "before") if any(name.endswith(BEFORE) for name in folders) else ("hello", "ours")
    for name, asked in probes.items():
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(spawns):
            for which in kinds:
                probe = Probe("hello", "/") if which == "hello" else asked
                folder = folders[probe.function + (BEFORE if which == "before" else "")]
                server = Server(
                    folder / "main.py",
                    probe.function,
                    threads=threads[asked.function],
                    env=env,
                    log=logs / f"cold-{label}-{probe.function}.log",
                    path=folder,
                )
                with server:
                    elapsed = server.wait_for(
                        probe.path, probe.headers, method=probe.method, body=probe.body, ok=probe.ok
                    )
                    times[which].append(elapsed)
        hello, ours = stats.median(times["hello"]), stats.median(times["ours"])
        out[name] = {
            "function": asked.function,
            "request": f"{asked.method} {asked.path}",
            "hello_s": times["hello"],
            "ours_s": times["ours"],
            "hello_median_s": round(hello, 4),
            "ours_median_s": round(ours, 4),
            "ratio": round(stats.ratio(ours, hello), 3),
        }
        if "before" in times:  # the other revision's packages, measured in turn with these
            before = stats.median(times["before"])
            out[name] |= {"before_s": times["before"], "before_ratio": round(stats.ratio(before, hello), 3)}
    return out


_MAIN_MODULES = """
import importlib.util, json, sys, time
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("main", sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
seconds = time.perf_counter() - t
cloud = [m for m in ("google.cloud.sql.connector", "google.cloud.secretmanager", "aiohttp", "grpc") if m in sys.modules]
print(json.dumps({"seconds": seconds, "cloud_modules": cloud, "modules": len(sys.modules)}))
"""
_IMPORT = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def imports(env: dict[str, str], folders: dict[str, Path], repeats: int = 3) -> dict[str, Any]:
    """Import time of the Cloud-only clients on their own, and of each packaged main.py."""

    def timed(code: str, folder: Path, *args: str) -> list[str]:
        full_env = os.environ | env | {"PYTHONPATH": str(folder)}
        return [
            subprocess.run(
                [sys.executable, "-c", code, *args],
                env=full_env,
                cwd=folder,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            ).stdout.strip()
            for _ in range(repeats)
        ]

    cloud = {
        "cloud_sql_connector": "import google.cloud.sql.connector",
        "secret_manager": "from google.cloud import secretmanager",
    }
    out: dict[str, Any] = {}
    for name, stmt in cloud.items():
        runs = timed(_IMPORT.format(stmt=stmt), folders["hello"])
        out[name + "_s"] = round(stats.median([float(x) for x in runs]), 4)
    for name in ("auth", "releases", "health"):
        runs = [json.loads(x) for x in timed(_MAIN_MODULES, folders[name], str(folders[name] / "main.py"))]
        out[f"main_{name}_s"] = round(stats.median([r["seconds"] for r in runs]), 4)
        out[f"main_{name}_cloud_modules"] = runs[0]["cloud_modules"]
        out[f"main_{name}_modules"] = runs[0]["modules"]
    return out


@contextlib.contextmanager
def cloud_environment(env: dict[str, str], *, database: str, user: str) -> Iterator[tuple[dict[str, str], Any]]:
    """`env` turned to the Cloud path: the connector through the stand-ins instead of DATABASE_URL."""
    from tests.google_apis import CloudSql  # the stand-ins the tests use (the repository is on the path)

    with tempfile.TemporaryDirectory(prefix="rm-cloud-") as folder, CloudSql(Path(folder)) as sql:
        cloud = {k: v for k, v in env.items() if k != "DATABASE_URL"} | sql.environment(db_user=user, db_name=database)
        yield cloud, sql


def with_secret_reference(env: dict[str, str], sql: Any, *, jwt_secret: str) -> dict[str, str]:
    """`env` whose JWT key is an `sm://` reference served by the Secret Manager stand-in."""
    name = "projects/demo/secrets/jwt-key/versions/latest"
    sql.apis.secrets[name] = jwt_secret
    return env | {"JWT_SECRET": f"sm://{name}", "SECRET_MANAGER_ENDPOINT": sql.apis.url}


_PROFILE = """
import json, sys, time
import flask.testing  # the test client's (it loads pdb): the harness's, not the function's
import functions_framework
started = time.perf_counter()
app = functions_framework.create_app(sys.argv[1], "main.py")
loaded = time.perf_counter()
method, path, headers, body = sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), sys.argv[5].encode() or None
status = app.test_client().open(path, method=method, headers=headers, data=body).status_code
print(json.dumps({"main_s": loaded - started, "first_request_s": time.perf_counter() - loaded, "status": status}))
"""


def _group(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:3] if parts[0] == "google" else parts[:2] if parts[0] == "shared" else parts[:1])


def where_the_time_goes(
    env: dict[str, str], probes: Probes, folders: dict[str, Path], *, repeats: int = 3, top: int = 8
) -> dict[str, Any]:
    """For each function, in a fresh interpreter from its package: the time to load main.py and to
    answer the first request, and `python -X importtime`'s self time of what those two imported
    (beyond functions-framework, which hello loads too), summed by package: the profile of what
    remains of a cold start."""
    out: dict[str, Any] = {}
    for name, probe in probes.items():
        folder = folders[probe.function]
        runs: list[tuple[dict[str, Any], dict[str, int]]] = []
        for _ in range(repeats):
            body = probe.body().decode() if probe.body is not None else ""
            command = [probe.function, probe.method, probe.path, json.dumps(probe.headers), body]
            done = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", _PROFILE, *command],
                env=os.environ | env | {"PYTHONPATH": str(folder), "LOG_LEVEL": "WARNING"},
                cwd=folder,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
            after = next(i for i, line in enumerate(lines) if line.rstrip().endswith("| functions_framework"))
            grouped: dict[str, int] = {}
            for line in lines[after + 1 :]:
                self_us, _, module = line.removeprefix("import time:").split("|", 2)
                key = _group(module.strip())
                grouped[key] = grouped.get(key, 0) + int(self_us)
            runs.append((json.loads(done.stdout.strip().splitlines()[-1]), grouped))
        packages = {key for _, grouped in runs for key in grouped}
        medians = {key: stats.median([grouped.get(key, 0) / 1000 for _, grouped in runs]) for key in packages}
        out[name] = {
            "main_ms": round(stats.median([r["main_s"] * 1000 for r, _ in runs]), 1),
            "first_request_ms": round(stats.median([r["first_request_s"] * 1000 for r, _ in runs]), 1),
            "status": runs[0][0]["status"],
            "request": f"{probe.method} {probe.path}",
            "imports_ms": round(sum(medians.values()), 1),
            "top_imports_ms": {k: round(v, 1) for k, v in sorted(medians.items(), key=lambda kv: -kv[1])[:top]},
        }
    return out
