"""`relman run`: a pipeline's whole deployment around the user's own COMMAND."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from relman import complete, output
from relman.commands import client, env_option
from relman.commands.deploy import TIMEOUT, report_status, request, wait_or_cancel
from relman.errors import ENDED_BADLY, OK
from relman.output import say


@click.command(context_settings={"ignore_unknown_options": False})
@click.argument("rel", metavar="RELEASE", shell_complete=complete.releases)
@env_option("The environment to deploy to.", required=True)
@TIMEOUT
@click.option(
    "--log-url", envvar="RELMAN_LOG_URL", show_envvar=True, help="The pipeline's log, reported with the status."
)
@click.option("--override-freeze", is_flag=True, help="Deploy through a freeze (admins; needs --reason).")
@click.option("--reason", help="Why (required with --override-freeze).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def run(
    ctx: click.Context,
    rel: str,
    environment: str,
    timeout: float | None,
    log_url: str | None,
    override_freeze: bool,
    reason: str | None,
    command: tuple[str, ...],
) -> int:
    """Request a deployment, wait for its approval, report in_progress, run COMMAND, report how it ended.

    COMMAND's output streams as it runs (to stderr with --output json). It sees RELMAN_RELEASE_ID,
    RELMAN_DEPLOYMENT_ID, RELMAN_APPLICATION, RELMAN_VERSION and RELMAN_ENVIRONMENT. A COMMAND that
    fails is reported failed (exit 4). Timed out waiting for approval, the deployment is cancelled (exit 5).

    \b
    Example:
      relman run checkout@1.4.0 --env production --timeout 7200 -- ./deploy.sh production
    """
    if override_freeze and not reason:
        raise click.UsageError("--override-freeze needs --reason")
    api = client(ctx)
    made = request(api, rel, environment, override_freeze=override_freeze, reason=reason)
    ready = wait_or_cancel(api, made, timeout, who="relman run")
    report_status(api, ready, "in_progress", log_url=log_url)
    say(f"Running {' '.join(command)}")
    code = _execute(command, ready)
    if code == 0:
        done = report_status(api, ready, "succeeded", log_url=log_url)
    else:
        note = f"{command[0]} exited with {code}" if code > 0 else f"{command[0]}: {_why_not(code)}"
        done = report_status(api, ready, "failed", log_url=log_url, message=note)
    say(f"{done['application']}@{done['version']} → {environment}: {done['status']}.")
    output.result(done, output.render_deployment)
    return OK if code == 0 else ENDED_BADLY


def _why_not(code: int) -> str:
    return {-127: "command not found", -126: "not executable"}.get(code, f"killed by signal {-code}")


def _execute(command: tuple[str, ...], deployment: dict[str, Any]) -> int:
    """Run COMMAND with the deployment in its environment; its exit code, or -127/-126/-signal."""
    import signal
    import subprocess

    env = os.environ | {
        "RELMAN_RELEASE_ID": str(deployment["release_id"]),
        "RELMAN_DEPLOYMENT_ID": str(deployment["id"]),
        "RELMAN_APPLICATION": str(deployment["application"]),
        "RELMAN_VERSION": str(deployment["version"]),
        "RELMAN_ENVIRONMENT": str(deployment["environment"]),
    }
    sys.stdout.flush()
    stdout = sys.stderr.fileno() if output.is_json() else None  # stdout keeps its one JSON document
    try:
        child = subprocess.Popen(command, env=env, stdout=stdout)  # noqa: S603 (the user's own command, no shell)
    except FileNotFoundError:
        say(f"{command[0]}: command not found")
        return -127
    except PermissionError:
        say(f"{command[0]}: not executable")
        return -126
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))  # the CI cancels
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        return child.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
