"""The releases function: what changes between two releases, or between what is live in an
environment and a candidate, `GET /releases/compare` (shared/deployments/compare.py)."""

from __future__ import annotations

from tests.factories import cancel, ready_release, ship

SOURCE = {"repository": "github.com/acme/checkout", "branch": "main", "committed_at": "2026-11-25T16:20:00Z"}


def release(releases, headers, version, sha):
    source = SOURCE | {"commit_sha": sha * 40}
    return ready_release(releases, headers, application="checkout", version=version, source=source,
                         title=f"Title {version}", notes=f"Notes of {version}.")  # fmt: skip


def test_between_two_versions_it_lists_the_releases_in_between_and_links_the_commit_range(releases, developer):
    for version, sha in (("1.0.0", "a"), ("1.1.0", "b"), ("1.2.0", "c"), ("1.10.0", "d")):
        made = release(releases, developer, version, sha)
        if version == "1.2.0":
            cancel(releases, developer, made["id"])

    answer = releases.get("/releases/compare?application=checkout&from=1.0.0&to=1.10.0", headers=developer)

    assert answer.status_code == 200, answer.get_json()
    found = answer.get_json()
    assert found["direction"] == "forward"
    assert [r["version"] for r in found["releases"]] == ["1.10.0", "1.1.0"]  # SemVer order, the cancelled left out
    assert found["releases"][1] | {"id": None} == {"id": None, "version": "1.1.0", "title": "Title 1.1.0",
        "notes": "Notes of 1.1.0.", "status": "ready", "commit_sha": "b" * 40}  # fmt: skip
    assert found["commit_range"] == f"{'a' * 40}...{'d' * 40}"
    assert found["compare_url"] == f"https://github.com/acme/checkout/compare/{'a' * 40}...{'d' * 40}"
    assert found["base"]["version"] == "1.0.0" and found["head"]["version"] == "1.10.0"


def test_against_what_is_live_in_an_environment_and_going_back(releases, developer):
    first = release(releases, developer, "1.0.0", "a")
    release(releases, developer, "1.1.0", "b")
    ship(releases, developer, first["id"], "dev")

    live = releases.get("/releases/compare?application=checkout&environment=dev&to=1.1.0", headers=developer)
    nothing_live = releases.get(
        "/releases/compare?application=checkout&environment=staging&to=1.1.0", headers=developer
    )
    back = releases.get("/releases/compare?application=checkout&from=1.1.0&to=1.0.0", headers=developer)
    same = releases.get("/releases/compare?application=checkout&environment=dev&to=1.0.0", headers=developer)

    assert [r["version"] for r in live.get_json()["releases"]] == ["1.1.0"]
    assert live.get_json()["base"]["release_id"] == first["id"]
    assert nothing_live.get_json()["base"] is None
    assert [r["version"] for r in nothing_live.get_json()["releases"]] == ["1.1.0", "1.0.0"]
    assert back.get_json()["direction"] == "backward" and [r["version"] for r in back.get_json()["releases"]] == [
        "1.1.0"
    ]
    assert same.get_json()["direction"] == "same" and same.get_json()["releases"] == []
    assert same.get_json()["compare_url"] is None


def test_bad_questions_get_specific_answers(releases, developer):
    release(releases, developer, "1.0.0", "a")

    def ask(query):
        return releases.get(f"/releases/compare?{query}", headers=developer)

    both = ask("application=checkout&from=1.0.0&environment=dev&to=1.0.0")
    neither = ask("application=checkout&to=1.0.0")
    bad_version = ask("application=checkout&from=one&to=1.0.0")
    missing = ask("application=checkout&from=9.9.9&to=1.0.0")
    no_env = ask("application=checkout&environment=moon&to=1.0.0")

    assert both.status_code == neither.status_code == 422
    assert bad_version.status_code == 422 and bad_version.get_json()["errors"][0]["field"] == "from"
    assert missing.status_code == 404 and missing.get_json()["code"] == "release_not_found"
    assert no_env.status_code == 422 and no_env.get_json()["code"] == "unknown_environment"
