"""Reading: `relman status` (what is live where), `relman metrics` (DORA) and `relman compare` (what changes)."""

from __future__ import annotations

from typing import Any

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


@click.command()
@click.argument("rel", metavar="RELEASE", shell_complete=complete.releases)
@click.option("--from", "base", metavar="VERSION", help="Compare against this version of the application.")
@env_option("Compare against what is live there [default: production, unless --from].")
@click.pass_context
def compare(ctx: click.Context, rel: str, base: str | None, environment: str | None) -> int:
    """What changes: the releases between what is live in an environment (or --from a version) and
    RELEASE (APPLICATION@VERSION), with their titles and the commit range.

    \b
    Examples:
      relman compare checkout@1.5.0 --env production
      relman compare checkout@1.5.0 --from 1.4.0 -o json | jq -r .compare_url
    """
    application, at, version = rel.partition("@")
    if not at or not application or not version:
        raise click.BadParameter("give the release as APPLICATION@VERSION", param_hint="RELEASE")
    params = {"application": application, "to": version, "from": base}
    if base is None:
        params["environment"] = environment or "production"
    found = client(ctx).get("/releases/compare", **params)
    output.result(found, output.render_compare)
    return OK


def _when(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """ISO 8601 (`2026-12-07T14:00`, with or without its offset) or a time today (`14:00`); a time
    without an offset is this machine's local time."""
    from datetime import datetime

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            clock = datetime.strptime(value, "%H:%M")
        except ValueError:
            raise click.BadParameter(f"{value!r} is neither ISO 8601 nor HH:MM") from None
        moment = datetime.now().replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
    return (moment if moment.tzinfo else moment.astimezone()).isoformat()


@click.command()
@click.option("--from", "start", callback=_when, help="From (ISO 8601, or HH:MM today) [default: 24 hours ago].")
@click.option("--to", "end", callback=_when, help="Until [default: now].")
@env_option("Only what happened there.", aliases=("-e", "--environment"))  # --to is the window's end here
@click.option("--application", "-a", shell_complete=complete.applications, help="Only this application's.")
@click.option("--team", help="Only the applications this team holds a binding on.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.pass_context
def timeline(
    ctx: click.Context,
    start: str | None,
    end: str | None,
    environment: str | None,
    application: str | None,
    team: str | None,
    limit: int,
) -> int:
    """What changed, across applications, newest first: deployments, rollbacks, locks, freezes and
    policy changes in a time window.

    \b
    Example:
      relman timeline --env production --from 14:00 --to 15:00
    """
    query: dict[str, Any] = {"from": start, "to": end, "environment": environment, "application": application}
    query["team"] = team
    items = list(client(ctx).pages("/releases/timeline", max_items=limit, **query))
    output.result({"items": items}, output.render_timeline)
    return OK
