"""The ready-made pipeline pieces, as docs/cli.md gives them: its three-line pipeline runs; its Cloud Build
step parses and every relman command in it is one relman accepts; the GitHub composite action installs
relman, puts it on PATH and exports the keyless settings (GitHub's runner simulated: $GITHUB_ENV,
$GITHUB_PATH, $RUNNER_TEMP, and its OIDC token endpoint as a local stand-in)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from tests.cli.conftest import RELMAN, Relman, clean_env, git_checkout
from tests.cli.stand_ins import stand_in
from tests.cli.test_keyless import exchanges, github, service
from tests.cli.test_pipeline_flow import finish, pending_deployment
from tests.factories import access_token, make_user
from tests.servers import ROOT, DevServer

PAGE = ROOT / "docs" / "cli.md"


def page_blocks(language: str) -> list[str]:
    """The `language` blocks of the CLI's page, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", PAGE.read_text(), flags=re.S | re.M)


def test_the_three_line_pipeline_of_the_cli_page_runs(relman: Relman, dev_server: DevServer, tmp_path: Path):
    install, *pipeline = page_blocks("sh")[0].strip().splitlines()
    assert install == "pip install ./cli" and len(pipeline) == 2  # installed already, as `make test` does
    tree = tmp_path / "checkout"
    tree.mkdir()
    git_checkout(tree)
    (tree / "deploy.sh").write_text('#!/bin/sh\necho "deployed to $1"\n')
    (tree / "deploy.sh").chmod(0o755)
    approver = access_token(make_user("release_manager"))
    env = relman.env(access_token(make_user("developer")), VERSION="1.4.0")
    env["PATH"] = f"{RELMAN.parent}:{env['PATH']}"

    script = "set -euo pipefail\n" + "\n".join(pipeline)
    running = subprocess.Popen(["bash", "-c", script], cwd=tree, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deployment = pending_deployment(dev_server.base, approver, "production", timeout_s=60)
        assert relman("approve", deployment["id"], token=approver).returncode == 0
        code, out, err = finish(running, timeout=90)
    finally:
        running.kill()

    assert code == 0, err
    deployed = [line for line in out.splitlines() if line.startswith("deployed")]
    assert deployed == ["deployed to dev", "deployed to staging", "deployed to production"]


def test_the_cloud_build_step_parses_and_relman_accepts_its_commands(relman_bin: str):
    build = yaml.safe_load(page_blocks("yaml")[0])
    step = build["steps"][0]
    script = step["args"][-1]
    commands = [
        shlex.split(line.replace("$_VERSION", "1.4.0")) for line in script.splitlines() if line.startswith("relman ")
    ]

    assert step["name"] == "python:3.11-slim" and script.startswith("pip install --quiet ./cli")
    assert {"RELMAN_URL", "RELMAN_SERVICE_ACCOUNT"} <= {e.split("=", 1)[0] for e in step["env"]}
    assert [c[1] for c in commands] == ["release", "run"]
    for command in commands:
        at = command.index("--") if "--" in command else len(command)
        # --help after every flag: click reads them all first, so an unknown flag or value still fails.
        checked = subprocess.run([relman_bin, *command[1:at], "--help"], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, f"{command}: {checked.stderr}"
    wrong = subprocess.run([relman_bin, "run", "x@1", "--too", "staging", "--help"], capture_output=True, text=True)
    assert wrong.returncode == 1  # the check can fail


def test_the_github_action_installs_relman_and_signs_in_keylessly(tmp_path: Path, services):
    action_dir = ROOT / ".github" / "actions" / "relman"
    action = yaml.safe_load((action_dir / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    github_env, github_path, runner_temp = tmp_path / "env", tmp_path / "path", tmp_path / "runner"
    github_env.touch()
    github_path.touch()
    runner_temp.mkdir()

    with stand_in(service() | github()) as server:
        inputs = {"url": server.base, "service-account": "checkout-deployer", "audience": "", "python": sys.executable,
                  "verify": "true"}  # fmt: skip
        runner = clean_env(
            GITHUB_ENV=str(github_env), GITHUB_PATH=str(github_path), RUNNER_TEMP=str(runner_temp),
            ACTIONS_ID_TOKEN_REQUEST_URL=f"{server.base}/_apis/token?api-version=2.0",
            ACTIONS_ID_TOKEN_REQUEST_TOKEN="request-token",
        )  # fmt: skip
        for step in action["runs"]["steps"]:
            assert step["shell"] == "bash"
            env = {name: expression(str(value), inputs, action_dir) for name, value in step.get("env", {}).items()}
            ran = subprocess.run(["bash", "-c", step["run"]], env=runner | env, capture_output=True, text=True,
                                 timeout=300, check=False)  # fmt: skip
            assert ran.returncode == 0, f"{step['name']}: {ran.stdout}\n{ran.stderr}"

    on_path = Path(github_path.read_text().strip())
    assert (on_path / "relman").exists()
    assert subprocess.run([on_path / "relman", "--version"], capture_output=True, text=True).stdout.startswith("relman")
    assert github_env.read_text().splitlines() == [
        f"RELMAN_URL={server.base}",
        "RELMAN_SERVICE_ACCOUNT=checkout-deployer",
    ]
    assert (
        exchanges(server)[0]["service_account"] == "checkout-deployer"
    )  # the verify step signed in with the job's token


def test_the_github_action_says_what_is_missing_without_id_token_permission(tmp_path: Path, services):
    action = yaml.safe_load((ROOT / ".github" / "actions" / "relman" / "action.yml").read_text())
    settings = action["runs"]["steps"][1]
    env = clean_env(
        GITHUB_ENV=str(tmp_path / "env"), INPUT_URL="https://x", INPUT_SERVICE_ACCOUNT="a", INPUT_AUDIENCE=""
    )

    ran = subprocess.run(["bash", "-c", settings["run"]], env=env, capture_output=True, text=True, check=False)

    assert ran.returncode == 1 and "permissions: id-token: write" in ran.stdout


def test_the_github_action_refuses_an_input_that_would_set_other_variables(tmp_path: Path):
    action = yaml.safe_load((ROOT / ".github" / "actions" / "relman" / "action.yml").read_text())
    settings = action["runs"]["steps"][1]
    github_env = tmp_path / "env"
    github_env.touch()
    inputs = {"INPUT_URL": "https://x", "INPUT_SERVICE_ACCOUNT": "a", "INPUT_AUDIENCE": ""}

    for name, injected in [("INPUT_URL", "https://x\nBASH_ENV=/tmp/evil.sh"),
                           ("INPUT_SERVICE_ACCOUNT", "a\nNODE_OPTIONS=--require=/tmp/evil.js"),
                           ("INPUT_AUDIENCE", "aud\r\nBASH_ENV=/tmp/evil.sh")]:  # fmt: skip
        env = clean_env(GITHUB_ENV=str(github_env), ACTIONS_ID_TOKEN_REQUEST_URL="https://token", **inputs)
        ran = subprocess.run(["bash", "-c", settings["run"]], env=env | {name: injected}, capture_output=True,
                             text=True, check=False)  # fmt: skip

        input_name = name.removeprefix("INPUT_").lower().replace("_", "-")
        assert ran.returncode == 1 and f"::error::the input '{input_name}' holds a line break" in ran.stdout
        assert github_env.read_text() == ""  # nothing for the runner to read: no BASH_ENV, no NODE_OPTIONS


def expression(value: str, inputs: dict[str, str], action_dir: Path) -> str:
    """GitHub's `${{ inputs.NAME }}` and `${{ github.action_path }}`, the only expressions the action uses."""

    def evaluate(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name == "github.action_path":
            return str(action_dir)
        assert name.startswith("inputs."), name
        return inputs[name.removeprefix("inputs.")]

    return re.sub(r"\$\{\{(.*?)\}\}", evaluate, value)
