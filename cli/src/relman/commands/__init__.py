"""What every command shares: the group that gives each of its commands `--output`, and the HTTP client.

One module a command group or concept, composed by relman.app. HTTP, waiting and git are imported when a
command runs, so `relman --help` and shell completion stay fast."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from relman import output

if TYPE_CHECKING:
    from relman.client import Client


class Group(click.Group):
    """A command group whose every command takes `--output/-o` (as declared in relman.output)."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not isinstance(cmd, click.Group):
            cmd.params.append(output.option())
        super().add_command(cmd, name)


def client(ctx: click.Context) -> Client:
    """The HTTP client, made on first use from the root command's settings."""
    root = ctx.find_root()
    obj: dict[str, Any] = root.obj
    if "client" not in obj:
        from relman.client import Client, Settings

        obj["client"] = Client(
            Settings(
                url=obj["url"] or "",
                token=obj["token"],
                service_account=obj["service_account"],
                audience=obj["audience"],
                retry_seconds=obj["retry_seconds"],
            )
        )
    found: Client = obj["client"]
    return found
