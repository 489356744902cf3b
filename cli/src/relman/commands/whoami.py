"""`relman whoami`."""

from __future__ import annotations

import click

from relman import output
from relman.commands import client
from relman.errors import OK


@click.command()
@click.pass_context
def whoami(ctx: click.Context) -> int:
    """Who the service takes you for, and with what role.

    \b
    Example:
      RELMAN_TOKEN=rm_... relman whoami
    """
    output.result(client(ctx).get("/auth/me"), output.render_me)
    return OK
