"""`relman`: the root command, its settings, the command groups it is made of, and how a run ends
(API.md, "Command-line client"). Each command lives in relman.commands; results render in relman.output."""

from __future__ import annotations

import itertools
import os
import sys
from typing import Any

import click

from relman import __version__, output, settings
from relman.commands import (
    Group,
    account,
    approvals,
    attestations,
    deploy,
    deployment,
    freeze,
    lock,
    release,
    run,
    status,
    whoami,
)
from relman.errors import OK, USAGE, ApiError, RelmanError, problem
from relman.output import say

EXAMPLE = """
\b
Example, a person's day (sign in once; the session is kept and renewed):
  relman login --url https://releases.example.com
  relman approvals --mine
  relman approve checkout@1.4.0 --env production --comment CHG-2231
\b
Example, a pipeline's whole deployment (keyless, or RELMAN_URL and RELMAN_TOKEN):
  relman release create --application checkout --version 1.4.0 --from-git --ready
  relman run checkout@1.4.0 --env production -- ./deploy.sh production
"""


@click.group(
    cls=Group,
    help="relman: record releases, promote them through their environments, report and roll back.\n" + EXAMPLE,
    epilog="Exit codes: 0 ok · 1 usage or invalid input · 2 not signed in or not allowed · 3 blocked by a gate · "
    "4 the deployment ended failed, rejected, cancelled or expired · 5 --timeout reached · 6 the service unreachable. "
    'Shell completion: eval "$(_RELMAN_COMPLETE=bash_source relman)" (zsh_source, fish_source).',
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(__version__, prog_name="relman")
@click.option("--url", envvar="RELMAN_URL", show_envvar=True, help="The service's origin (serving /auth, /releases).")
@click.option(
    "--token", envvar="RELMAN_TOKEN", show_envvar=True, help="An access or API token (prefer the environment variable)."
)
@click.option(
    "--service-account",
    envvar="RELMAN_SERVICE_ACCOUNT",
    show_envvar=True,
    help="Keyless sign-in as this service account (id or name), with an OIDC token found where relman runs.",
)
@click.option(
    "--audience",
    envvar="RELMAN_AUDIENCE",
    show_envvar=True,
    help="The OIDC token's audience [default: the URL's origin].",
)
@click.option(
    "--retry-seconds",
    envvar="RELMAN_RETRY_SECONDS",
    show_envvar=True,
    type=click.FloatRange(0),
    default=60.0,
    show_default=True,
    help="How long to keep retrying a request the service could not answer (429, 503, connection errors; "
    "a person's commands do not wait on a service that refuses connections).",
)
@click.option(
    "--iap/--no-iap",
    envvar="RELMAN_IAP",
    show_envvar=True,
    default=False,
    help="The service is behind Identity-Aware Proxy: sign in with your Google account (gcloud's).",
)
@click.option(
    "--profile",
    envvar="RELMAN_PROFILE",
    show_envvar=True,
    help="The profile of ~/.config/relman/config.toml to use, and whose sign-in [default: default].",
)
@click.pass_context
def cli(ctx: click.Context, /, **given: Any) -> None:
    ctx.obj = settings.resolve(ctx, given)


cli.params.append(output.option(envvar="RELMAN_OUTPUT"))  # `relman -o json ...`, and RELMAN_OUTPUT
for command in (
    account.login,
    account.logout,
    account.config,
    whoami.whoami,
    approvals.approvals,
    release.release,
    deploy.preflight,
    deploy.deploy,
    deploy.report,
    run.run,
    approvals.approve,
    approvals.reject,
    deployment.deployment,
    deploy.rollback,
    status.status,
    status.metrics,
    status.compare,
    status.timeline,
    freeze.freeze,
    lock.lock,
    lock.unlock,
    lock.locks,
    attestations.attestations,
):
    cli.add_command(command)


def _wants_document(argv: list[str]) -> bool:
    """For errors found before the options were read (a usage error): the format asked for, if a
    program's (json, yaml), is set."""
    if output.is_json():
        return True
    asked = [os.environ.get("RELMAN_OUTPUT", "")]
    for a, b in itertools.pairwise([*argv, ""]):
        if a in ("--output", "-o"):
            asked.append(b)
        elif a.startswith("--output="):
            asked.append(a.removeprefix("--output="))
        elif a.startswith("-o") and not a.startswith("--"):
            asked.append(a[2:])
    last = next((a for a in reversed(asked) if a in output.FORMATS), "text")
    output.MODE["output"] = last
    return output.is_json()


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args=args, prog_name="relman", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:  # a bare `relman` (or group): its help, and 0
        click.echo(error.format_message())
        sys.exit(OK)
    except click.ClickException as error:  # usage errors and bad parameters: exit 1, as API.md says
        error.show()
        if _wants_document(args):
            output.result(problem("usage_error", "Invalid command line", error.format_message()))
        sys.exit(USAGE)
    except click.Abort:
        say("Aborted.")
        sys.exit(USAGE)
    except RelmanError as error:
        if isinstance(error, ApiError) and error.gates:
            output.print_gates(error.gates)
        else:
            say(f"relman: {error.message}")
        if output.is_json():
            output.result(error.document)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        say("Interrupted.")
        sys.exit(130)
    except Exception as error:  # a bug of ours: one line, not a traceback (RELMAN_DEBUG=1 shows it)
        if os.environ.get("RELMAN_DEBUG"):
            raise
        say(f"relman: unexpected {type(error).__name__}: {error} (RELMAN_DEBUG=1 shows where; please report it)")
        sys.exit(USAGE)
    sys.exit(code if isinstance(code, int) else OK)
