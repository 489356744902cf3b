"""`relman deployment show|cancel`: one deployment, found by its id or by its release and environment."""

from __future__ import annotations

import click

from relman import output
from relman.commands import Group, client, env_option
from relman.errors import OK
from relman.output import say


@click.group(cls=Group)
def deployment() -> None:
    """One deployment: show it, or cancel it before it ends (DEPLOYMENT: its id, RELEASE/DEPLOYMENT, or
    APPLICATION@VERSION with --env).

    \b
    Example:
      relman deployment cancel checkout@1.4.0 --env production
    """


@deployment.command()
@click.argument("ref", metavar="DEPLOYMENT")
@env_option("With APPLICATION@VERSION: the environment of its deployment.")
@click.pass_context
def show(ctx: click.Context, ref: str, environment: str | None) -> int:
    """A deployment with its approvals and what its rules still need.

    \b
    Example:
      relman deployment show checkout@1.4.0 --env production
    """
    from relman import resolve

    output.result(resolve.deployment(client(ctx), ref, environment=environment), output.render_deployment)
    return OK


@deployment.command()
@click.argument("ref", metavar="DEPLOYMENT")
@env_option("With APPLICATION@VERSION: the environment of its deployment.")
@click.option("--message", "-m", default="cancelled with relman", show_default=True, help="Why, for the record.")
@click.pass_context
def cancel(ctx: click.Context, ref: str, environment: str | None, message: str) -> int:
    """Cancel a deployment that has not ended (waiting for approval, queued or running): it frees the
    environment for the next one.

    \b
    Example:
      relman deployment cancel checkout@1.4.0 --env production -m "superseded by 1.4.1"
    """
    from relman import resolve
    from relman.commands.deploy import report_status

    api = client(ctx)
    target = resolve.deployment(api, ref, likely_status="pending_approval", environment=environment)
    done = report_status(api, target, "cancelled", message=message)
    say(f"Cancelled {done['application']}@{done['version']} → {done['environment']} (deployment {done['id']}).")
    output.result(done, output.render_deployment)
    return OK
