"""`relman lock`, `relman unlock`, `relman locks`: stop the line in an environment, and start it again."""

from __future__ import annotations

from typing import Any

import click

from relman import output
from relman.commands import client, env_option
from relman.errors import OK, RelmanError
from relman.output import say


@click.command()
@env_option("The environment to lock.", required=True)
@click.option("--app", "application", help="Lock it for this application only [default: every application].")
@click.option("--reason", required=True, help="Why: shown on every refusal while it holds.")
@click.option("--until", "unlock_at", metavar="RFC3339", help="It unlocks itself then [default: only by unlock].")
@click.pass_context
def lock(ctx: click.Context, environment: str, application: str | None, reason: str, unlock_at: str | None) -> int:
    """Lock an environment: nothing new starts there (deploys, approvals that queue, starts,
    rollbacks) until it is unlocked.

    \b
    Example:
      relman lock --env production --reason "INC-4711: payments failing"
    """
    from relman.client import fresh_key

    body = {"environment": environment, "application": application, "reason": reason, "unlock_at": unlock_at}
    made, _ = client(ctx).post("/releases/locks", {k: v for k, v in body.items() if v is not None}, key=fresh_key())
    say(f"Locked {environment}{_for(application)}: {made['id']}.")
    output.result(made, lambda one: output.render_locks({"items": [one]}))
    return OK


@click.command()
@env_option("The environment to unlock.", required=True)
@click.option("--app", "application", help="The lock of this application [default: the one of every application].")
@click.option("--reason", help="Why it may start again.")
@click.pass_context
def unlock(ctx: click.Context, environment: str, application: str | None, reason: str | None) -> int:
    """Unlock an environment: what waited may start again (the lock stays on record).

    \b
    Example:
      relman unlock --env production --reason "Fixed in 1.4.1"
    """
    api = client(ctx)
    holding = api.pages("/releases/locks", environment=environment, application=application, active="true")
    chosen = next((lock for lock in holding if lock["application"] == application), None)
    if chosen is None:
        raise RelmanError(
            f"No lock holds {environment}{_for(application)}; `relman locks --env {environment}` lists them."
        )
    done, _ = api.post(f"/releases/locks/{chosen['id']}/unlock", {"reason": reason} if reason else {})
    say(f"Unlocked {environment}{_for(application)}.")
    output.result(done, lambda one: output.render_locks({"items": [one]}))
    return OK


@click.command()
@env_option("Only this environment's.")
@click.option("--all", "everything", is_flag=True, help="Ended locks too [default: only those holding now].")
@click.pass_context
def locks(ctx: click.Context, environment: str | None, everything: bool) -> int:
    """The locks holding now (or every lock, with --all), newest first: who, since when, why.

    \b
    Example:
      relman locks --env production
    """
    query: dict[str, Any] = {"environment": environment, "active": None if everything else "true"}
    items = list(client(ctx).pages("/releases/locks", **query))
    output.result({"items": items}, output.render_locks)
    return OK


def _for(application: str | None) -> str:
    return f" for {application}" if application else ""
