"""`relman freeze`: freeze windows."""

from __future__ import annotations

from typing import Any

import click

from relman import output
from relman.commands import Group, client, env_option
from relman.errors import OK
from relman.output import say


@click.group(cls=Group)
def freeze() -> None:
    """Freeze windows: no deployments to an environment (or all) while one is active.

    \b
    Example:
      relman freeze create --env production --weekly "fri 16:00-23:59" --timezone Europe/Berlin \\
        --reason "No Friday deploys"
    """


@freeze.command("list")
@env_option("Only this environment's freezes.")
@click.option("--active", is_flag=True, default=None, help="Only windows active now.")
@click.pass_context
def freeze_list(ctx: click.Context, environment: str | None, active: bool | None) -> int:
    """Freeze windows, each saying whether it is active now.

    \b
    Example:
      relman freeze list --env production --active
    """
    items = list(client(ctx).pages("/releases/freezes", environment=environment, active=_flag(active)))
    output.result({"items": items}, output.render_freezes)
    return OK


def _flag(value: bool | None) -> str | None:
    return None if value is None else str(value).lower()


def _weekly(text: str) -> dict[str, str]:
    day, _, span = text.strip().partition(" ")
    start, dash, end = span.strip().partition("-")
    if not day or not dash:
        raise click.BadParameter(f"{text!r}: expected 'DAY HH:MM-HH:MM', e.g. 'fri 16:00-23:59'", param_hint="--weekly")
    return {"day": day, "start": start.strip(), "end": end.strip()}


@freeze.command("create")
@env_option("The environment [default: all].")
@click.option("--starts-at", help="RFC 3339 (a one-off window).")
@click.option("--ends-at", help="RFC 3339.")
@click.option("--weekly", multiple=True, metavar="'DAY HH:MM-HH:MM'", help="A weekly window (repeatable).")
@click.option("--timezone", help="IANA zone of the weekly windows, e.g. Europe/Berlin.")
@click.option("--reason", required=True)
@click.option("--allow-fixes", is_flag=True, help="Let releases made with `release create --fix` through.")
@click.pass_context
def freeze_create(
    ctx: click.Context,
    environment: str | None,
    starts_at: str | None,
    ends_at: str | None,
    weekly: tuple[str, ...],
    timezone: str | None,
    reason: str,
    allow_fixes: bool,
) -> int:
    """A one-off (--starts-at/--ends-at) or weekly (--weekly, --timezone) freeze window.

    \b
    Example:
      relman freeze create --env production --starts-at 2026-12-24T00:00:00Z \\
        --ends-at 2026-12-27T00:00:00Z --reason Holidays
    """
    body: dict[str, Any] = {"environment": environment, "reason": reason, "allow_fixes": allow_fixes or None}
    if weekly:
        body |= {"weekly": [_weekly(w) for w in weekly], "timezone": timezone}
    else:
        body |= {"starts_at": starts_at, "ends_at": ends_at}
    from relman.client import fresh_key

    made, _ = client(ctx).post("/releases/freezes", {k: v for k, v in body.items() if v is not None}, key=fresh_key())
    say(f"Freeze {made['id']} created.")
    output.result(made, lambda f: output.render_freezes({"items": [f]}))
    return OK


@freeze.command("delete")
@click.argument("freeze_id", metavar="FREEZE")
@click.pass_context
def freeze_delete(ctx: click.Context, freeze_id: str) -> int:
    """End a freeze window.

    \b
    Example:
      relman freeze delete 3f0e...
    """
    client(ctx).delete(f"/releases/freezes/{freeze_id}")
    say(f"Freeze {freeze_id} deleted.")
    output.result({"id": freeze_id, "deleted": True}, output.render_nothing)
    return OK
