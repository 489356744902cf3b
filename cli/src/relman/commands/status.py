"""Reading: `relman status` (what is live where) and `relman metrics` (DORA)."""

from __future__ import annotations

import click

from relman import complete, output
from relman.commands import client, env_option
from relman.errors import OK


@click.command()
@click.argument("application", shell_complete=complete.applications)
@click.pass_context
def status(ctx: click.Context, application: str) -> int:
    """What is live where: per environment, the live release, the one before it, any deployment under
    way, and the gates there (the stage's approval rules, soak and hotfix lane; the policy's floor and
    deploy windows).

    \b
    Example:
      relman status checkout
    """
    api = client(ctx)
    found = dict(api.get("/releases/overview", application=application))
    path = api.get(f"/releases/applications/{application}")["path"]
    catalogue = api.get("/releases/environments", limit=100)["items"]
    found["stages"] = {stage["environment"]: stage for stage in path}
    found["policies"] = {env["name"]: env["policy"] for env in catalogue}
    output.result(found, output.render_overview)
    return OK


@click.command()
@click.option("--application", "-a")
@env_option("The environment.", default="production", show_default=True)
@click.option("--days", type=click.IntRange(1, 365), default=30, show_default=True)
@click.pass_context
def metrics(ctx: click.Context, application: str | None, environment: str, days: int) -> int:
    """DORA metrics over the last DAYS days, with the counts behind each figure.

    \b
    Example:
      relman metrics --application checkout --days 90
    """
    found = client(ctx).get("/releases/metrics", application=application, environment=environment, days=days)
    output.result(found, output.render_metrics)
    return OK
