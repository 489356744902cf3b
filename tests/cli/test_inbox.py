"""A person's approvals with the installed `relman` against the dev server: the inbox as an approver and
as the requester, approving by release and environment, cancelling a request, `deploy --wait` that gives
up cancelling its own, the blocking deployment named, and people shown by name."""

from __future__ import annotations

import json
from typing import Any

from tests.factories import access_token, make_user
from tests.servers import call


def api(base: str, token: str, method: str, path: str, body: Any = None) -> Any:
    status, _, answer = call(base, method, path, body, {"Authorization": f"Bearer {token}"})
    assert status < 300, (method, path, status, answer)
    return answer


def waiting_in_production(base: str, requester: str, version: str = "1.0.0") -> dict[str, Any]:
    """checkout VERSION shipped to dev and staging, and requested for production (approval needed)."""
    body = {"application": "checkout", "version": version, "title": "Faster payments", "status": "ready",
            "notes": "Faster payment page.\n\nDetails."}  # fmt: skip
    release = api(base, requester, "POST", "/releases", body)
    for environment in ("dev", "staging"):
        made = api(base, requester, "POST", f"/releases/{release['id']}/deployments", {"environment": environment})
        for status in ("in_progress", "succeeded"):
            api(base, requester, "PATCH", f"/releases/{release['id']}/deployments/{made['id']}", {"status": status})
    return api(base, requester, "POST", f"/releases/{release['id']}/deployments", {"environment": "production"})


def test_the_inbox_shows_an_approver_what_to_decide_and_the_requester_why_not(relman, dev_server):
    requester = access_token(make_user("release_manager"))
    approver = access_token(make_user("release_manager"))
    waiting = waiting_in_production(dev_server.base, requester)

    mine = relman("approvals", token=approver)
    own = relman("approvals", "--mine", "-o", "json", token=requester)
    theirs = relman("approvals", "-o", "json", token=requester)

    assert mine.returncode == 0, mine.stderr
    line = next(row for row in mine.stdout.splitlines() if row.startswith("checkout@1.0.0"))
    assert "production" in line and "Release Manager" in line and "may approve" in line
    assert "Faster payments: Faster payment page." in line and "1 from any approver" in line
    assert json.loads(own.stdout) == {"items": []}
    (item,) = json.loads(theirs.stdout)["items"]
    assert item["deployment"]["id"] == waiting["id"] and item["refusal"]["code"] == "self_approval"


def test_approve_by_release_and_environment_queues_it_and_names_the_approver(relman, dev_server):
    requester = access_token(make_user("release_manager"))
    approver_user = make_user("release_manager")
    waiting = waiting_in_production(dev_server.base, requester)

    done = relman("approve", "checkout@1.0.0", "--env", "production", "-c", "CHG-1", token=access_token(approver_user))
    shown = relman("deployment", "show", waiting["id"], token=requester)

    assert done.returncode == 0, done.stderr
    assert "Approved checkout@1.0.0 → production: now queued." in done.stderr
    release = relman("release", "show", "checkout@1.0.0", token=requester)
    assert "approve by Release Manager" in shown.stdout and "requested by: Release Manager" in shown.stdout
    assert str(approver_user["id"]) not in shown.stdout  # a name, not an id
    assert "by Release Manager" in next(line for line in release.stdout.splitlines() if line.startswith("created:"))


def test_a_request_in_the_way_is_named_and_can_be_cancelled(relman, dev_server):
    requester = access_token(make_user("release_manager"))
    waiting = waiting_in_production(dev_server.base, requester)
    api(dev_server.base, requester, "POST", "/releases",
        {"application": "checkout", "version": "1.1.0", "title": "Next", "status": "ready"})  # fmt: skip

    blocked = relman("preflight", "checkout@1.0.0", "--env", "production", token=requester)
    cancelled = relman("deployment", "cancel", "checkout@1.0.0", "--env", "production", token=requester)
    after = relman("preflight", "checkout@1.0.0", "--env", "production", token=requester)

    assert blocked.returncode == 3 and f"(deployment {waiting['id']})" in blocked.stderr
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"Cancelled checkout@1.0.0 → production (deployment {waiting['id']})" in cancelled.stderr
    assert after.returncode == 0, after.stderr


def test_deploy_wait_that_times_out_cancels_its_own_request(relman, dev_server):
    requester = access_token(make_user("release_manager"))
    waiting = waiting_in_production(dev_server.base, requester)
    cancelled = relman("deployment", "cancel", waiting["id"], token=requester)
    assert cancelled.returncode == 0, cancelled.stderr

    timed_out = relman("deploy", "checkout@1.0.0", "--env", "production", "--wait", "--timeout", "1", token=requester)

    assert timed_out.returncode == 5, timed_out.stderr
    assert "Cancelled deployment" in timed_out.stderr
    listed = api(dev_server.base, requester, "GET", "/releases/deployments?environment=production")["items"]
    assert [d["status"] for d in listed] == ["cancelled", "cancelled"]


def test_the_old_spellings_of_the_environment_still_work_but_help_shows_one(relman, dev_server):
    requester = access_token(make_user("release_manager"))
    waiting_in_production(dev_server.base, requester)

    old = relman("preflight", "checkout@1.0.0", "--to", "staging", token=requester)
    helped = relman("deploy", "--help")

    assert old.returncode == 0, old.stderr
    assert "--env ENV" in helped.stdout and "--to" not in helped.stdout


def test_shell_completion_offers_applications_and_their_versions_from_the_service(relman, dev_server):
    token = access_token(make_user("developer"))
    for version in ("1.0.0", "1.10.0", "1.9.0"):
        api(dev_server.base, token, "POST", "/releases", {"application": "checkout", "version": version, "title": "t"})

    def complete(words: str) -> list[str]:
        ran = relman(token=token, _RELMAN_COMPLETE="bash_complete", COMP_WORDS=words, COMP_CWORD="2")
        assert ran.returncode == 0, ran.stderr
        return ran.stdout.split()

    assert complete("relman status che") == ["plain,checkout"]
    assert complete("relman deploy che") == ["nospace,checkout@"]
    assert complete("relman deploy checkout@1.") == [
        "plain,checkout@1.10.0",
        "plain,checkout@1.9.0",
        "plain,checkout@1.0.0",
    ]
    # With the service down, completion offers nothing, quietly.
    down = relman(token=token, _RELMAN_COMPLETE="bash_complete", COMP_WORDS="relman status che", COMP_CWORD="2",
                  RELMAN_URL="http://127.0.0.1:9")  # fmt: skip
    assert down.returncode == 0 and down.stdout.strip() == "" and down.stderr == ""


def test_compare_says_what_a_release_brings_where_another_is_live(relman, dev_server):
    requester = access_token(make_user("release_manager"))
    waiting_in_production(dev_server.base, requester)  # 1.0.0 live in dev and staging
    source = {"repository": "github.com/acme/checkout", "commit_sha": "b" * 40}
    newer = {"application": "checkout", "version": "1.1.0", "title": "New basket", "status": "ready", "source": source}
    api(dev_server.base, requester, "POST", "/releases", newer)

    against_staging = relman("compare", "checkout@1.1.0", "--env", "staging", token=requester)
    against_production = relman("compare", "checkout@1.1.0", "-o", "json", token=requester)

    assert against_staging.returncode == 0, against_staging.stderr
    assert against_staging.stdout.startswith("From checkout@1.0.0 to checkout@1.1.0: brings:")
    assert "New basket" in against_staging.stdout
    found = json.loads(against_production.stdout)
    assert found["base"] is None and [r["version"] for r in found["releases"]] == ["1.1.0", "1.0.0"]


def test_timeline_answers_what_changed_in_production_in_a_window(relman, dev_server):
    requester = access_token(make_user("release_manager"))
    waiting_in_production(dev_server.base, requester)
    api(dev_server.base, requester, "POST", "/releases/locks", {"environment": "production", "reason": "INC-9"})

    shown = relman("timeline", "--env", "production", "--from", "00:00", "--to", "23:59", token=requester)
    assert "Warning" not in shown.stderr  # --to is the window's end here, not an old spelling of --env
    dev = relman("timeline", "--env", "dev", "-o", "json", token=requester)
    bad = relman("timeline", "--from", "yesterday", token=requester)

    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[1].split()[2:5] == ["lock", "locked", "(all)"]
    assert "requested" in lines[2] and "checkout" in lines[2] and "1.0.0" in lines[2] and "Release Manager" in lines[2]
    moves = [(e["action"], e["data"].get("to")) for e in json.loads(dev.stdout)["items"]]
    assert moves[0] == ("deployment.status_changed", "succeeded")
    assert bad.returncode == 1 and "neither ISO 8601 nor HH:MM" in bad.stderr
