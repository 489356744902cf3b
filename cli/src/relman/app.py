"""`relman`: the root command, its settings, the command groups it is made of, and how a run ends
(API.md, "Command-line client"). Each command lives in relman.commands; results render in relman.output."""

from __future__ import annotations

import os
import sys

import click

from relman import __version__, output
from relman.commands import Group, approvals, deploy, freeze, lock, release, run, status, whoami
from relman.errors import OK, USAGE, ApiError, RelmanError, problem
from relman.output import say

EXAMPLE = """
\b
Example (a pipeline's whole deployment, keyless or with RELMAN_TOKEN):
  export RELMAN_URL=https://releases.example.com
  relman release create --application checkout --version 1.4.0 --from-git --ready
  relman run checkout@1.4.0 --to production -- ./deploy.sh production
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
    help="How long to keep retrying a request the service could not answer (429, 503, connection errors).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    url: str | None,
    token: str | None,
    service_account: str | None,
    audience: str | None,
    retry_seconds: float,
) -> None:
    ctx.obj = {
        "url": url,
        "token": token,
        "service_account": service_account,
        "audience": audience,
        "retry_seconds": retry_seconds,
    }


cli.params.append(output.option(envvar="RELMAN_OUTPUT"))  # `relman -o json ...`, and RELMAN_OUTPUT
for command in (
    whoami.whoami,
    release.release,
    deploy.preflight,
    deploy.deploy,
    deploy.report,
    run.run,
    approvals.approve,
    approvals.reject,
    deploy.rollback,
    status.status,
    status.metrics,
    freeze.freeze,
    lock.lock,
    lock.unlock,
    lock.locks,
):
    cli.add_command(command)


def _wants_json(argv: list[str]) -> bool:
    """For errors found before the options were read (a usage error)."""
    if output.is_json():
        return True
    pairs = zip(argv, [*argv[1:], ""], strict=True)
    return os.environ.get("RELMAN_OUTPUT") == "json" or any(
        a in ("--output=json", "-ojson") or (a in ("--output", "-o") and b == "json") for a, b in pairs
    )


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args=args, prog_name="relman", standalone_mode=False)
    except click.ClickException as error:  # usage errors and bad parameters: exit 1, as API.md says
        error.show()
        if _wants_json(args):
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
    sys.exit(code if isinstance(code, int) else OK)
