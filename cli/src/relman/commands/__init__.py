"""What every command shares: the group that gives each of its commands `--output`, and the HTTP client.

One module a command group or concept, composed by relman.app. HTTP, waiting and git are imported when a
command runs, so `relman --help` and shell completion stay fast."""

from __future__ import annotations

from collections.abc import Callable
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


# The commands a pipeline runs: they keep retrying a service that refuses connections (a restart, a
# deploy of the service itself) for --retry-seconds. A person's commands fail at once instead, unless
# --retry-seconds (or its variable, or the profile) says how long to wait.
PIPELINE_COMMANDS = frozenset({"release", "preflight", "deploy", "report", "run", "rollback"})


def client(ctx: click.Context) -> Client:
    """The HTTP client, made on first use from the root command's settings."""
    root = ctx.find_root()
    obj: dict[str, Any] = root.obj
    if "client" not in obj:
        from relman.client import Client, Settings

        chosen_wait = obj["sources"]["retry_seconds"] != "default"
        obj["client"] = Client(
            Settings(
                url=obj["url"] or "",
                token=obj["token"],
                service_account=obj["service_account"],
                audience=obj["audience"],
                retry_seconds=obj["retry_seconds"],
                profile=obj["profile"],
                fail_fast=root.invoked_subcommand not in PIPELINE_COMMANDS and not chosen_wait,
                iap=bool(obj["iap"]),
            )
        )
    found: Client = obj["client"]
    return found


class _EnvOption(click.Option):
    """`--env ENV` in help; `--to`, `-e` and `--environment`, the spellings of earlier versions, still
    work for one version but are not shown."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        return None if record is None else ("--env ENV", record[1])


OLD_SPELLINGS = ("--to", "-e", "--environment")


def env_option(
    help: str = "The environment.", *, aliases: tuple[str, ...] = OLD_SPELLINGS, **extra: Any
) -> Callable[[Any], Any]:
    """The one option that names an environment, the same in every command (`aliases`: the old
    spellings it still takes, but a command whose own option is one of them)."""
    return click.option("--env", *aliases, "environment", cls=_EnvOption, metavar="ENV", help=help, **extra)
