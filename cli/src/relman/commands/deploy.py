"""Deployments: `relman preflight`, `deploy`, `report` and `rollback`, and what `relman run` shares with them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from relman import complete, output
from relman.commands import client, env_option
from relman.errors import BLOCKED, OK, ApiError
from relman.output import say

if TYPE_CHECKING:
    from relman.client import Client

STATUSES = ("in_progress", "succeeded", "failed")

TIMEOUT = click.option(
    "--timeout",
    type=float,
    envvar="RELMAN_TIMEOUT",
    show_envvar=True,
    default=3600.0,
    show_default=True,
    help="Seconds to wait before giving up (exit 5); 0 waits for ever.",
)


def wait_limit(value: float | None) -> float | None:
    """--timeout as waiting.wait takes it (None: for ever)."""
    return None if value is None or value <= 0 else value


def fetcher(api: Client, deployment: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    path = f"/releases/{deployment['release_id']}/deployments/{deployment['id']}"
    return lambda: dict(api.get(path))


def request(
    api: Client,
    rel: str,
    environment: str,
    *,
    override_freeze: bool,
    reason: str | None,
    skip: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Request a deployment of `rel` to `environment` (skipping the stages in `skip`: the hotfix
    lane), and say how it stands."""
    from relman import resolve
    from relman.client import fresh_key

    body: dict[str, Any] = {"environment": environment}
    if override_freeze:
        body["override_freeze"] = True
    if skip:
        body["skip_stages"] = list(skip)
    if reason:
        body["reason"] = reason
    made, _ = api.post(f"/releases/{resolve.release_id(api, rel)}/deployments", body, key=fresh_key())
    what = f"{made['application']}@{made['version']} → {environment}"
    say(f"Requested {what}: {made['status']} (deployment {made['id']}).")
    return dict(made)


def report_status(api: Client, deployment: dict[str, Any], status: str, **extra: str | None) -> dict[str, Any]:
    """Report a status; sent again after a lost answer, a move already made counts as made."""
    path = f"/releases/{deployment['release_id']}/deployments/{deployment['id']}"
    body = {"status": status} | {k: v for k, v in extra.items() if v}
    try:
        return dict(api.patch(path, body))
    except ApiError as error:
        if error.code == "invalid_transition":
            now = api.get(path)
            if now.get("status") == status:
                return dict(now)
        raise


@click.command()
@click.argument("rel", metavar="RELEASE", shell_complete=complete.releases)
@env_option("The environment to check.", required=True)
@click.option(
    "--skip-stage", "skip", multiple=True, metavar="ENV", help="Check as if skipping this stage (hotfix lane)."
)
@click.pass_context
def preflight(ctx: click.Context, rel: str, environment: str, skip: tuple[str, ...]) -> int:
    """Every gate that would block a deployment now (exit 3 when one does), and what approving it
    needs (the approval rules) and when work may start there (the deploy windows); nothing is written.

    \b
    Example:
      relman preflight checkout@1.4.0 --env production
    """
    from relman import resolve

    api = client(ctx)
    body: dict[str, Any] = {"environment": environment} | ({"skip_stages": list(skip)} if skip else {})
    answer, _ = api.post(f"/releases/{resolve.release_id(api, rel)}/deployments/preflight", body)
    output.result(answer, output.render_verdict)
    if not answer["allowed"]:
        output.print_gates(answer["blocking"])
        return BLOCKED
    return OK


@click.command()
@click.argument("rel", metavar="RELEASE", shell_complete=complete.releases)
@env_option("The environment to deploy to.", required=True)
@click.option("--wait", is_flag=True, help="Wait until the deployment may run (approved: queued).")
@TIMEOUT
@click.option("--override-freeze", is_flag=True, help="Deploy through a freeze (admins; needs --reason).")
@click.option(
    "--skip-stage",
    "skip",
    multiple=True,
    metavar="ENV",
    help="The hotfix lane: skip this stage on the way (its skippable_by role; needs --reason). Repeatable.",
)
@click.option("--reason", help="Why (required with --override-freeze and --skip-stage).")
@click.pass_context
def deploy(
    ctx: click.Context,
    rel: str,
    environment: str,
    wait: bool,
    timeout: float | None,
    override_freeze: bool,
    skip: tuple[str, ...],
    reason: str | None,
) -> int:
    """Request a deployment; with --wait, until it is approved and may run (timed out, the request is
    cancelled: exit 5).

    \b
    Examples:
      relman deploy checkout@1.4.0 --env production --wait --timeout 7200
      relman deploy checkout@1.4.1 --env production --skip-stage staging --reason "SEV-1 INC-4411"
    """
    if override_freeze and not reason:
        raise click.UsageError("--override-freeze needs --reason")
    if skip and not reason:
        raise click.UsageError("--skip-stage needs --reason")
    api = client(ctx)
    made = request(api, rel, environment, override_freeze=override_freeze, reason=reason, skip=skip)
    if wait:
        made = wait_or_cancel(api, made, timeout, who="relman deploy --wait")
    output.result(made, output.render_deployment)
    return OK


def wait_or_cancel(api: Client, made: dict[str, Any], timeout: float | None, *, who: str) -> dict[str, Any]:
    """Wait until `made` may run; timed out, cancel it, so it neither starts unattended nor holds the
    environment from the next request (exit 5 still)."""
    from relman import waiting

    try:
        return waiting.wait(fetcher(api, made), made, until=waiting.RUNNABLE, timeout=wait_limit(timeout))
    except waiting.TimedOut:
        report_status(api, made, "cancelled", message=f"{who} gave up waiting for approval")
        say(f"Cancelled deployment {made['id']}: nothing will run it.")
        raise


@click.command()
@click.argument("ref", metavar="DEPLOYMENT")
@click.option("--status", required=True, type=click.Choice(STATUSES))
@click.option("--log-url", help="Where the pipeline's log is (http/https).")
@click.option("--message")
@click.pass_context
def report(ctx: click.Context, ref: str, status: str, log_url: str | None, message: str | None) -> int:
    """Report a deployment's progress (DEPLOYMENT: its id, or RELEASE/DEPLOYMENT).

    \b
    Example:
      relman report 6f1c...e2 --status succeeded --log-url https://ci.example.com/runs/77
    """
    from relman import resolve

    api = client(ctx)
    likely = {"in_progress": "queued", "succeeded": "in_progress", "failed": "in_progress"}[status]
    target = resolve.deployment(api, ref, likely_status=likely)
    done = report_status(api, target, status, log_url=log_url, message=message)
    say(f"{done['application']}@{done['version']} → {done['environment']}: {done['status']}.")
    output.result(done, output.render_deployment)
    return OK


@click.command()
@click.argument("application", shell_complete=complete.applications)
@env_option("The environment to roll back.", required=True)
@click.option("--reason", required=True)
@click.option("--wait", is_flag=True, help="Wait until the rollback is reported succeeded (exit 4 if it fails).")
@TIMEOUT
@click.pass_context
def rollback(ctx: click.Context, application: str, environment: str, reason: str, wait: bool, timeout: float) -> int:
    """Redeploy the last good release before the live one (no approval; allowed in a freeze).

    \b
    Example:
      relman rollback checkout --env production --reason "Checkout errors up 5x"
    """
    from relman.client import fresh_key

    api = client(ctx)
    body = {"application": application, "environment": environment, "reason": reason}
    made, _ = api.post("/releases/rollback", body, key=fresh_key())
    target = f"{made['version']} (deployment {made['release_id']}/{made['id']})"
    say(f"Rolling {application} in {environment} back to {target}.")
    if wait:
        from relman import waiting

        made = waiting.wait(fetcher(api, made), made, until=waiting.LANDED, timeout=wait_limit(timeout))
    output.result(made, output.render_deployment)
    return OK
