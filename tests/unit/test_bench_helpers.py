"""The benchmark's pure helpers: percentiles, ratios, verdicts and the printed table (nothing timed)."""

import math

from bench import stats
from bench.loadgen import http_request


def test_percentile_interpolates_between_ranks():
    assert stats.percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert stats.percentile([1.0, 2.0, 3.0], 100) == 3.0
    assert math.isnan(stats.percentile([], 50))


def test_ratio_of_a_missing_or_zero_baseline_is_not_a_number():
    assert stats.ratio(80.0, 100.0) == 0.8
    assert math.isnan(stats.ratio(1.0, 0.0))


def test_verdict_reads_the_target_in_its_direction():
    assert stats.verdict(0.8, 0.8, at_least=True) == "met"
    assert stats.verdict(2.6, 2.5, at_least=False) == "MISSED"
    assert stats.verdict(math.nan, 1.0, at_least=True) == "n/a"


def test_table_pads_columns_and_formats_numbers():
    lines = stats.table(["name", "ratio"], [["health", 0.6789], ["auth", math.nan]]).splitlines()
    assert lines[0].split() == ["name", "ratio"]
    assert lines[2].split() == ["health", "0.68"]
    assert lines[3].split() == ["auth", "-"]


def test_requests_carry_a_length_for_bodies():
    request = http_request("POST", "/releases", headers={"Content-Type": "application/json"}, body=b"{}")
    assert request.startswith(b"POST /releases HTTP/1.1\r\n")
    assert request.endswith(b"Content-Length: 2\r\n\r\n{}")


def test_the_hot_path_profile_sums_time_by_package():
    from bench.hot_profile import package_of

    site = "/srv/.venv/lib/python3.11/site-packages"
    assert package_of(f"{site}/redis/client.py", "execute_command") == "redis"
    assert package_of(f"{site}/werkzeug/routing/map.py", "match") == "werkzeug"
    assert package_of("/srv/app/shared/web/api.py", "_answer") == "shared.web"
    assert package_of("/srv/app/shared/platform/cache.py", "lookup") == "shared.platform.cache"
    assert package_of("/usr/lib/python3.11/logging/__init__.py", "emit") == "stdlib:logging"
    assert package_of("~", "<method 'recv_into' of '_socket.socket' objects>") == "socket I/O"
    assert package_of("~", "<built-in method builtins.isinstance>") == "built-ins"


def test_the_latency_section_judges_each_ratio_against_its_target():
    from bench.report import latency_section

    shown = latency_section(
        {
            "cli_help": {"baseline_median_s": 0.010, "ours_median_s": 0.040, "ratio": 4.0},
            "event_delivery": {"baseline_median_s": 0.0004, "ours_median_s": 0.012, "ratio": 30.0},
        }
    )

    cli, event = (line for line in shown.splitlines() if line.startswith(("relman", "event")))
    assert "40.00" in cli and cli.endswith("met")
    assert "12.00" in event and event.endswith("MISSED")


def _cold_row(ratio, **extra):
    return {"function": "releases", "request": "GET /releases/x", "hello_s": [0.2], "ours_s": [0.5]} | {
        "hello_median_s": 0.2,
        "ours_median_s": 0.5,
        "ratio": ratio,
        **extra,
    }


def test_the_cold_start_table_holds_each_probe_to_the_last_releases_figure():
    from bench.report import cold_start_section

    rows = {"releases": _cold_row(2.5), "releases create": _cold_row(4.5) | {"request": "POST /releases"}}
    table = cold_start_section(rows, "local", releases={"releases": 3.9, "releases create": 4.0})

    hit, create = (line for line in table.splitlines() if line.startswith("releases"))
    assert "3.9 (-1.40)" in hit and "GREW" not in hit
    assert "4.0 (+0.50)" in create and create.rstrip().endswith("GREW")  # beyond the noise: flagged


def test_the_cold_start_table_shows_the_other_revision_measured_in_the_same_run():
    from bench.report import cold_start_section

    table = cold_start_section({"releases": _cold_row(2.5, before_ratio=3.9)}, "local")

    header, _, row = table.strip().splitlines()[1:4]
    assert header.split()[:6] == ["probe", "request", "hello", "ms", "ours", "ms"] and "before" in header
    assert "3.9" in row and "2.5" in row


def test_a_release_keeps_each_probes_ratio_per_path():
    from bench.report import release_figures

    results = {"cold_start": {"releases": _cold_row(2.5)}, "cold_start_cloud": {"releases": _cold_row(2.4)}}

    kept = release_figures(results, version="0.2.0", measured="2026-12-08")

    assert kept == {
        "version": "0.2.0",
        "measured": "2026-12-08",
        "cold_start": {"releases": 2.5},
        "cold_start_cloud": {"releases": 2.4},
    }
