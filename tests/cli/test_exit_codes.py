"""Exit codes exactly as API.md says, so a pipeline can trust them: 0 ok, 1 usage or invalid input,
2 not signed in or not allowed, 3 blocked by a gate (each gate named), 4 the deployment ended failed,
rejected or cancelled, 5 --timeout reached, 6 the service unreachable."""

from __future__ import annotations

import json

from tests.cli.conftest import Relman
from tests.cli.test_pipeline_flow import finish, pending_deployment
from tests.factories import access_token, make_user
from tests.servers import DevServer, call, free_port


def people() -> tuple[str, str]:
    return access_token(make_user("developer")), access_token(make_user("release_manager"))


def ready(relman: Relman, token: str, version: str = "1.4.0") -> None:
    made = relman("release", "create", "-a", "checkout", "--version", version, "--ready", token=token)
    assert made.returncode == 0, made.stderr


def through_staging(relman: Relman, token: str, version: str = "1.4.0") -> None:
    ready(relman, token, version)
    for stage in ("dev", "staging"):
        assert relman("run", f"checkout@{version}", "--to", stage, "--", "true", token=token).returncode == 0


def test_a_gate_block_is_3_and_names_every_blocking_gate(relman: Relman, dev_server: DevServer):
    developer, manager = people()
    ready(relman, developer)
    frozen = relman(
        "freeze", "create", "--env", "production", "--starts-at", "2020-01-01T00:00:00Z",
        "--ends-at", "2099-01-01T00:00:00Z", "--reason", "Launch day", token=manager,
    )  # fmt: skip
    assert frozen.returncode == 0, frozen.stderr

    blocked = relman("deploy", "checkout@1.4.0", "--to", "production", token=developer)
    checked = relman("preflight", "checkout@1.4.0", "--to", "production", token=developer)

    for answer in (blocked, checked):
        assert answer.returncode == 3, answer.stderr
        assert "blocked by 2 gates" in answer.stderr
        assert "promotion_required:" in answer.stderr and "environment_frozen:" in answer.stderr
    as_json = relman("deploy", "checkout@1.4.0", "--to", "production", "-o", "json", token=developer)
    assert as_json.returncode == 3
    problem = json.loads(as_json.stdout)  # the server's problem document, as it is
    assert problem["code"] == "promotion_required" and {e["code"] for e in problem["errors"]} == {
        "promotion_required",
        "environment_frozen",
    }


def test_a_locked_environment_is_3_and_says_who_locked_it_and_why(relman: Relman, dev_server: DevServer):
    developer, manager = people()
    ready(relman, developer)
    locked = relman("lock", "--env", "dev", "--reason", "INC-4711: payments failing", token=manager)
    listed = relman("locks", "--env", "dev", token=developer)

    blocked = relman("deploy", "checkout@1.4.0", "--to", "dev", token=developer)
    relman("unlock", "--env", "dev", token=manager)
    again = relman("unlock", "--env", "dev", token=manager)
    after = relman("deploy", "checkout@1.4.0", "--to", "dev", token=developer)

    assert locked.returncode == 0, locked.stderr
    assert "INC-4711: payments failing" in listed.stdout and "(all)" in listed.stdout
    assert blocked.returncode == 3 and "environment_locked:" in blocked.stderr
    assert "INC-4711: payments failing" in blocked.stderr
    assert again.returncode == 1 and "No lock holds dev" in again.stderr
    assert after.returncode == 0, after.stderr


def test_a_fix_goes_through_a_freeze_that_allows_fixes(relman: Relman, dev_server: DevServer):
    developer, manager = people()
    frozen = relman(
        "freeze", "create", "--env", "dev", "--starts-at", "2020-01-01T00:00:00Z", "--ends-at", "2099-01-01T00:00:00Z",
        "--reason", "Launch week", "--allow-fixes", token=manager,
    )  # fmt: skip
    fix = relman("release", "create", "-a", "checkout", "--version", "1.4.1", "--ready",
                 "--fix", "https://status.example.com/incidents/4711", token=developer)  # fmt: skip
    ready(relman, developer, "1.5.0")

    through = relman("deploy", "checkout@1.4.1", "--to", "dev", token=developer)
    held = relman("preflight", "checkout@1.5.0", "--to", "dev", token=developer)

    assert frozen.returncode == 0 and fix.returncode == 0, frozen.stderr + fix.stderr
    assert through.returncode == 0, through.stderr
    assert held.returncode == 3 and "environment_frozen:" in held.stderr


def test_a_rejected_deployment_is_4(relman: Relman, dev_server: DevServer):
    developer, manager = people()
    through_staging(relman, developer)
    waiting = relman.start("deploy", "checkout@1.4.0", "--to", "production", "--wait", token=developer)
    try:
        deployment = pending_deployment(dev_server.base, manager, "production")
        rejected = relman("reject", deployment["id"], "--comment", "Not during the sale", token=manager)
        assert rejected.returncode == 0, rejected.stderr
        assert "Rejected checkout@1.4.0 → production: now rejected" in rejected.stderr
        code, _, err = finish(waiting)
    finally:
        waiting.kill()
    assert code == 4, err
    assert "ended rejected" in err and "Not during the sale" in err


def test_waiting_past_the_timeout_is_5_and_says_what_it_waits_for(relman: Relman, dev_server: DevServer):
    developer, _ = people()
    through_staging(relman, developer)

    waited = relman(
        "deploy", "checkout@1.4.0", "--to", "production", "--wait", "--timeout", "2", "-o", "json", token=developer
    )

    assert waited.returncode == 5, waited.stderr
    assert "timed out after 2 s" in waited.stderr and "pending_approval" in waited.stderr
    assert json.loads(waited.stdout)["status"] == "pending_approval"  # still requested: someone may approve it


def test_run_that_times_out_is_5_and_cancels_what_nobody_would_run(relman: Relman, dev_server: DevServer):
    developer, manager = people()
    through_staging(relman, developer)

    waited = relman("run", "checkout@1.4.0", "--to", "production", "--timeout", "1", "--", "true", token=developer)

    assert waited.returncode == 5, waited.stderr
    _, _, page = call(dev_server.base, "GET", "/releases/deployments?environment=production",
                      headers={"Authorization": f"Bearer {manager}"})  # fmt: skip
    assert [d["status"] for d in page["items"]] == ["cancelled"]


def test_run_reports_failed_and_is_4_when_the_command_fails(relman: Relman, dev_server: DevServer):
    developer, _ = people()
    ready(relman, developer)

    ran = relman("run", "checkout@1.4.0", "--to", "dev", "-o", "json", "--", "sh", "-c", "echo half done; exit 3",
                 token=developer)  # fmt: skip

    assert ran.returncode == 4, ran.stderr
    deployment = json.loads(ran.stdout)  # stdout: the one JSON document; the command's output went to stderr
    assert deployment["status"] == "failed" and deployment["message"] == "sh exited with 3"
    assert "half done" in ran.stderr
    _, _, now = call(dev_server.base, "GET", f"/releases/{deployment['release_id']}/deployments/{deployment['id']}",
                     headers={"Authorization": f"Bearer {developer}"})  # fmt: skip
    assert now["status"] == "failed"  # what the service records, not only what relman says


def test_a_stopped_server_is_6(relman_bin: str, services):
    server = DevServer()
    server.stop()

    gone = Relman(relman_bin, server.base)("whoami", "-o", "json", token="rm_x", RELMAN_RETRY_SECONDS="2")

    assert gone.returncode == 6, gone.stderr
    assert "cannot connect" in gone.stderr and "retrying" in gone.stderr
    assert json.loads(gone.stdout)["code"] == "service_unreachable"


def test_usage_errors_and_invalid_input_are_1(relman: Relman, dev_server: DevServer):
    developer, _ = people()

    missing = relman("deploy", "checkout@1.4.0", token=developer)
    bad_artifact = relman(
        "release", "create", "-a", "checkout", "--version", "1.0.0", "--artifact", "image", token=developer
    )
    invalid = relman("release", "create", "-a", "checkout", "--version", "1.x", "-o", "json", token=developer)
    unknown = relman("release", "show", "checkout@9.9.9", token=developer)

    assert missing.returncode == 1 and "--to" in missing.stderr
    assert bad_artifact.returncode == 1 and "NAME=URI@sha256:HEX" in bad_artifact.stderr
    assert invalid.returncode == 1 and json.loads(invalid.stdout)["code"] == "validation_failed"
    assert unknown.returncode == 1 and "no release checkout@9.9.9" in unknown.stderr


def test_not_signed_in_or_not_allowed_is_2(relman: Relman, dev_server: DevServer):
    developer, manager = people()
    through_staging(relman, developer)
    requested = relman("deploy", "checkout@1.4.0", "--to", "production", "-o", "json", token=developer)
    deployment = json.loads(requested.stdout)

    nobody = relman("whoami")
    forged = relman("whoami", token="rm_not_a_token")
    not_a_manager = relman("approve", deployment["id"], token=developer)
    viewer = relman(
        "approve", f"{deployment['release_id']}/{deployment['id']}", token=access_token(make_user("viewer"))
    )

    assert nobody.returncode == 2 and "RELMAN_TOKEN" in nobody.stderr
    assert forged.returncode == 2 and "invalid_token" in forged.stderr
    assert not_a_manager.returncode == 2 and "insufficient_role" in not_a_manager.stderr
    assert viewer.returncode == 2
    assert relman("approve", deployment["id"], token=manager).returncode == 0


def test_a_closed_port_is_6_without_waiting_past_the_retry_budget(relman_bin: str, services):
    closed = Relman(relman_bin, f"http://127.0.0.1:{free_port()}")

    gone = closed("release", "list", token="rm_x", RELMAN_RETRY_SECONDS="1")

    assert gone.returncode == 6, gone.stderr
