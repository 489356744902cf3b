"""The printed table: one section per part of the run that produced results, every figure a ratio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import stats
from bench.scale import INFORMATIONAL, SCALE_QUERIES

COLD_START_GOALS = {"health": 2.2, "auth": 3.0, "releases": 3.0, "console": 3.0}
# A cold-start ratio swings by about this much between runs here; growth beyond it is flagged.
COLD_START_NOISE = 0.3
# `relman --help` against a bare interpreter start; an event's commit-to-receiver against a plain POST.
LATENCY_GOALS = {"cli_help": 5.0, "event_delivery": 25.0}


def report(results: dict[str, Any]) -> str:
    """The whole table for `results` as bench/results.json holds them; parts not run are left out."""
    m = results["machine"]
    parts = [
        f"Machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}; all figures are ratios measured in this run."
    ]
    release = last_release()
    if release:
        parts.append(f"Growth against the last release: {release['version']}, as measured on {release['measured']}.")
    if "cold_start" in results:
        parts.append(
            cold_start_section(
                results["cold_start"], "local path: PostgreSQL and Redis over TCP", releases=release.get("cold_start")
            )
        )
    if "cold_start_cloud" in results:
        parts.append(
            cold_start_section(
                results["cold_start_cloud"],
                "Cloud path: Cloud SQL connector with IAM login, against the stand-ins",
                goals=False,
                releases=release.get("cold_start_cloud"),
            )
        )
        parts.append(
            cold_start_section(
                results["cold_start_cloud_sm"], "Cloud path with the JWT key as an sm:// reference", goals=False
            )
        )
    if "imports" in results:
        parts.append(imports_line(results["imports"]))
    if "cold_start_profile" in results:
        parts.append(profile_section(results["cold_start_profile"]))
    if "warm" in results:
        parts += [warm_section(results["warm"]["targets"]), connections_section(results["warm"]["connections"])]
    if "hot_profile" in results:
        parts.append(hot_profile_section(results["hot_profile"]))
    if "scale" in results:
        parts.append(scale_section(results["scale"]))
    if "latency" in results:
        parts.append(latency_section(results["latency"]))
    if "console" in results:
        parts.append(console_section(results["console"]))
    if "login" in results:
        parts.append(login_line(results["login"]))
    return "\n".join(parts)


def cold_start_section(
    cold_start: dict[str, Any], path: str, *, goals: bool = True, releases: dict[str, float] | None = None
) -> str:
    """Median spawn-to-first-200 of each packaged function against hello, with its goal (local path)."""
    rows = []
    for name, row in cold_start.items():
        goal = COLD_START_GOALS[row["function"]]
        verdict = [f"<= {goal}", stats.verdict(row["ratio"], goal, at_least=False)] if goals else ["report", ""]
        measured = [row["hello_median_s"] * 1000, row["ours_median_s"] * 1000, row["ratio"]]
        before = [row["before_ratio"]] if "before_ratio" in row else []
        growth = _against_release(name, row["ratio"], releases)
        rows.append([name, row["request"], *measured, *before, *verdict, *growth])
    first = next(iter(cold_start.values()))
    spawns = len(first["hello_s"])
    columns = ["probe", "request", "hello ms", "ours ms", "ratio", *(["before"] if "before_ratio" in first else [])]
    return (
        f"\nCold start from the deploy package, spawn to the first answer of a new instance's first request, {path} "
        f"(median of {spawns} spawns each, alternating with hello)\n"
        + stats.table([*columns, "target", "", "last release", ""], rows)
    )


RELEASE = Path(__file__).with_name("release.json")


def last_release() -> dict[str, Any]:
    """The cold-start ratios of the last release, kept in `bench/release.json` (`--record-release`
    writes a run's; empty if there is none)."""
    return dict(json.loads(RELEASE.read_text())) if RELEASE.exists() else {}


def release_figures(results: dict[str, Any], *, version: str, measured: str) -> dict[str, Any]:
    """What `--record-release` keeps of a run: each probe's cold-start ratio, per path."""
    figures: dict[str, Any] = {"version": version, "measured": measured}
    for part in ("cold_start", "cold_start_cloud"):
        if part in results:
            figures[part] = {name: row["ratio"] for name, row in results[part].items()}
    return figures


def _against_release(name: str, ratio: float, releases: dict[str, float] | None) -> list[str]:
    """The growth budget: this run's ratio against the last release's (`bench/release.json`), so a
    change that slows a start shows in the run that measures it, beyond the machine's noise."""
    if releases is None or name not in releases:
        return ["-", ""]
    before = releases[name]
    change = ratio - before
    flag = "GREW" if change > COLD_START_NOISE else ""
    return [f"{before} ({change:+.2f})", flag]


def _at_most(value: float, goal: float) -> str:
    return stats.verdict(value, goal, at_least=False)


def console_section(console: dict[str, Any]) -> str:
    """Each console page's server time against the API's JSON for the same data."""
    from bench.console import GOAL

    rows = [
        [
            name,
            row["api_ms"],
            row["console_ms"],
            row["ratio"],
            f"<= {GOAL}",
            stats.verdict(row["ratio"], GOAL, at_least=False),
        ]
        for name, row in console.items()
    ]
    return "\nThe console's pages against the API's JSON for the same data (in-process, median)\n" + stats.table(
        ["page", "API ms", "console ms", "ratio", "target", ""], rows
    )


def imports_line(imp: dict[str, Any]) -> str:
    """What importing the Cloud-only clients and each main.py costs, and which Cloud modules it pulled in."""
    return "\n" + (
        f"Cloud-only imports on their own: Cloud SQL connector {imp['cloud_sql_connector_s'] * 1000:.0f} ms, "
        f"Secret Manager {imp['secret_manager_s'] * 1000:.0f} ms. Import of main.py: "
        + ", ".join(
            f"{n} {imp[f'main_{n}_s'] * 1000:.0f} ms (Cloud modules: {imp[f'main_{n}_cloud_modules'] or 'none'})"
            for n in ("auth", "releases", "health")
        )
    )


def profile_section(profile: dict[str, Any]) -> str:
    """What remains of each local-path cold start: main.py's load, the first request, and the
    packages their imports spent the most time in (python -X importtime, self time)."""
    lines = ["\nWhere a local-path cold start goes beyond hello (fresh interpreter, from the package; -X importtime):"]
    for name, row in profile.items():
        top = ", ".join(f"{package} {ms:.0f}" for package, ms in row["top_imports_ms"].items())
        lines.append(
            f"  {name}: main.py {row['main_ms']:.0f} ms, first request {row['first_request_ms']:.0f} ms "
            f"({row['status']}); imports {row['imports_ms']:.0f} ms, most in: {top}"
        )
    return "\n".join(lines)


def warm_section(targets: dict[str, Any]) -> str:
    """Each warm target's req/s and latencies, against hello and against its baseline."""
    rows = []
    for name, row in targets.items():
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
    return (
        "\nWarm throughput (functions-framework, gunicorn WORKERS=1 x THREADS as Terraform sets them)\n"
        + stats.table(["target", "req/s", "p50 ms", "p99 ms", "x hello", "baseline", "ratio", "target", ""], rows)
    )


def hot_profile_section(profile: dict[str, Any]) -> str:
    """Where `GET /releases/{id}` spends its time in-process, by package."""
    lines = ["\nWhere GET /releases/{id} spends its time (in-process, cProfile self time by package):"]
    for name, row in profile.items():
        shares = ", ".join(f"{package} {share:.0%}" for package, share in row["share"].items())
        lines.append(f"  {name}: {row['per_request_ms']:.2f} ms a request: {shares}")
    return "\n".join(lines)


def connections_section(connections: dict[str, Any]) -> str:
    """Sessions each instance opened over its load run, against its pool size."""
    rows = [
        [
            label,
            c["pool_size"],
            c["sessions_opened"],
            c["peak_connections"],
            stats.verdict(float(c["sessions_opened"]), float(c["pool_size"]), at_least=False),
        ]
        for label, c in connections.items()
    ]
    return "\nConnections per instance over its whole load run (pg_stat_database / pg_stat_activity)\n" + stats.table(
        ["instance", "pool (THREADS)", "sessions opened", "peak", "<= pool"], rows
    )


def scale_section(scale: dict[str, Any]) -> str:
    """Each list query's p50 at the small and the large size, and whether the large one uses an index."""
    small, large = scale["sizes"]
    rows = []
    for name in SCALE_QUERIES:
        a, b = scale[str(small)][name], scale[str(large)][name]
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
    return (
        f"\nScale: p50 of each query with {small:,} and {large:,} releases (service, cache disabled)\n"
        + stats.table(["query", f"{small} ms", f"{large} ms", "ratio", "target", "", "index"], rows)
    )


def latency_section(latency: dict[str, Any]) -> str:
    """`relman --help` and an event's way to its receiver, each against its baseline."""
    labels = {
        "cli_help": ("relman --help, spawned", "python -c pass"),
        "event_delivery": ("event commit to webhook receiver", "plain POST to it"),
    }
    rows = []
    for name, (what, baseline) in labels.items():
        row, goal = latency[name], LATENCY_GOALS[name]
        base, ours = row["baseline_median_s"], row["ours_median_s"]
        rows.append(
            [
                what,
                baseline,
                base * 1000,
                ours * 1000,
                row["ratio"],
                f"<= {goal}",
                stats.verdict(row["ratio"], goal, at_least=False),
            ]
        )
    return "\nLatencies (medians; loopback)\n" + stats.table(
        ["what", "baseline", "baseline ms", "ours ms", "ratio", "target", ""], rows
    )


def login_line(lg: dict[str, Any]) -> str:
    """The Argon2id parameters against OWASP's minimum and the auth function's memory."""
    return (
        f"\nLogin hashing: Argon2id m={lg['memory_kib']} KiB t={lg['time_cost']} p={lg['parallelism']} "
        f"(OWASP minimum m=19456 t=2 p=1: {lg['owasp']}); {lg['concurrency']} concurrent logins need "
        f"{lg['peak_hash_mib']:.0f} MiB of the function's {lg['function_memory']}: {lg['fits']}"
    )
