"""A pipeline's whole flow with `relman`, as docs/cli.md shows it: create from the working tree, finalize,
`run` to dev and staging, `run` to production waiting for an approval another user gives meanwhile,
`status`, then a later release rolled back."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.cli.conftest import Relman, api_token, git_checkout
from tests.factories import access_token, make_user
from tests.servers import DevServer, call


def pending_deployment(base: str, token: str, environment: str, timeout_s: float = 30) -> dict[str, Any]:
    """The deployment waiting for approval there, once the pipeline has requested it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _, _, page = call(
            base,
            "GET",
            f"/releases/deployments?status=pending_approval&environment={environment}",
            headers={"Authorization": f"Bearer {token}"},
        )
        if page["items"]:
            return dict(page["items"][0])
        time.sleep(0.2)
    raise AssertionError(f"no deployment to {environment} is waiting for approval")


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def deploy_script(tmp_path: Path) -> tuple[list[str], Path]:
    shipped = tmp_path / "shipped.txt"
    script = tmp_path / "deploy.sh"
    script.write_text(
        'echo "deploying $RELMAN_VERSION to $RELMAN_ENVIRONMENT"\n'
        f'echo "$RELMAN_ENVIRONMENT $RELMAN_VERSION" >> {shipped}\n'
    )
    return ["sh", str(script)], shipped


def through_production(
    relman: Relman, base: str, version: str, command: list[str], *, pipeline: str, approver: str
) -> str:
    for stage in ("dev", "staging"):
        ran = relman("run", f"checkout@{version}", "--to", stage, "--", *command, token=pipeline)
        assert ran.returncode == 0, ran.stderr
        assert f"deploying {version} to {stage}" in ran.stdout  # the command's output, streamed
    waiting = relman.start(
        "run", f"checkout@{version}", "--to", "production", "--timeout", "60", "--", *command, token=pipeline
    )
    try:
        deployment = pending_deployment(base, approver, "production")
        approved = relman("approve", deployment["id"], "--comment", "CHG-2231", token=approver)
        assert approved.returncode == 0, approved.stderr
        assert "Approved checkout@" in approved.stderr and "now queued" in approved.stderr
        code, out, err = finish(waiting)
    finally:
        waiting.kill()
    assert code == 0, err
    assert "pending_approval" in err and f"deploying {version} to production" in out
    return str(deployment["id"])


def test_create_finalize_run_to_production_with_an_approval_status_and_rollback(
    relman, dev_server: DevServer, tmp_path
):
    pipeline = api_token(dev_server.base, access_token(make_user("developer")))  # what a CI secret holds
    approver = access_token(make_user("release_manager"))  # another person
    tree = tmp_path / "checkout"
    tree.mkdir()
    source = git_checkout(tree)
    command, shipped = deploy_script(tmp_path)

    created = relman(
        "release", "create", "--application", "checkout", "--version", "1.4.0", "--title", "Faster payment page",
        "--from-git", "--artifact", f"image=europe-docker.pkg.dev/acme/apps/checkout@sha256:{'2c' * 32}",
        "--output", "json", token=pipeline, cwd=tree,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    release = json.loads(created.stdout)
    assert release["source"] == source and release["status"] == "draft"
    assert release["artifacts"][0]["digest"] == f"sha256:{'2c' * 32}"

    finalized = relman("release", "finalize", "checkout@1.4.0", token=pipeline)
    assert finalized.returncode == 0 and "ready" in finalized.stderr, finalized.stderr
    assert "status:    ready" in finalized.stdout  # the summary for people

    through_production(relman, dev_server.base, "1.4.0", command, pipeline=pipeline, approver=approver)
    assert shipped.read_text().splitlines() == ["dev 1.4.0", "staging 1.4.0", "production 1.4.0"]

    shown = relman("release", "show", "checkout@1.4.0", token=pipeline).stdout.splitlines()
    assert sorted(line.split()[:4] for line in shown if line.startswith(("dev ", "staging ", "production "))) == [
        [stage, "succeeded", "deploy", "yes"] for stage in ("dev", "production", "staging")
    ]
    status = relman("status", "checkout", "--output", "json", token=pipeline)
    assert json.loads(status.stdout)["environments"]["production"]["live"]["version"] == "1.4.0"
    table = relman("status", "checkout", token=pipeline).stdout.splitlines()
    assert table[0].split() == ["ENVIRONMENT", "LIVE", "PREVIOUS", "UNDER", "WAY", "GATES"]
    assert table[3].split()[:2] == ["production", "1.4.0"]

    # 1.5.0 follows, misbehaves in production and is rolled back; the pipeline reports the rollback.
    later = relman("release", "create", "-a", "checkout", "--version", "1.5.0", "--ready", token=pipeline)
    assert later.returncode == 0, later.stderr
    through_production(relman, dev_server.base, "1.5.0", command, pipeline=pipeline, approver=approver)
    rolling = relman.start(
        "rollback", "checkout", "--env", "production", "--reason", "Checkout errors up 5x", "--wait", "-o", "json",
        token=approver,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (under_way := json.loads(relman("status", "checkout", "-o", "json", token=pipeline).stdout)[
            "environments"]["production"]["in_progress"]):  # fmt: skip
            assert time.monotonic() < deadline, "the rollback was not requested"
            time.sleep(0.2)
        for step in ("in_progress", "succeeded"):
            reported = relman("report", str(under_way["deployment_id"]), "--status", step, token=pipeline)
            assert reported.returncode == 0, reported.stderr
        code, out, err = finish(rolling)
    finally:
        rolling.kill()
    assert code == 0, err
    assert json.loads(out)["status"] == "succeeded" and json.loads(out)["version"] == "1.4.0"

    now = json.loads(relman("status", "checkout", "-o", "json", token=pipeline).stdout)["environments"]["production"]
    assert now["live"]["version"] == "1.4.0" and now["live"]["kind"] == "rollback"
