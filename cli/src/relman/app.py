"""The `relman` commands (API.md, "Command-line client"). HTTP, waiting and git live in their own modules,
imported when a command runs, so `relman --help` and shell completion stay fast."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from relman import __version__, output
from relman.errors import BLOCKED, ENDED_BADLY, OK, USAGE, ApiError, RelmanError, problem
from relman.output import say

if TYPE_CHECKING:
    from relman.client import Client

F = TypeVar("F", bound=Callable[..., Any])
STATUSES = ("in_progress", "succeeded", "failed")


# -- settings and the shared options --------------------------------------------------------------


def _set_output(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value:
        output.MODE["output"] = value
    return value


def output_option(command: F) -> F:
    """`--output/-o text|json` on every command (and on `relman` itself), for wherever a user puts it."""
    return click.option(
        "--output",
        "-o",
        type=click.Choice(["text", "json"]),
        callback=_set_output,
        expose_value=False,
        is_eager=True,
        help="text (for people) or json (exactly one JSON document on stdout). [env: RELMAN_OUTPUT]",
    )(command)


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


EXAMPLE = """
\b
Example (a pipeline's whole deployment, keyless or with RELMAN_TOKEN):
  export RELMAN_URL=https://releases.example.com
  relman release create --application checkout --version 1.4.0 --from-git --ready
  relman run checkout@1.4.0 --to production -- ./deploy.sh production
"""


@click.group(
    help="relman: record releases, promote them through their environments, report and roll back.\n" + EXAMPLE,
    epilog="Exit codes: 0 ok · 1 usage or invalid input · 2 not signed in or not allowed · 3 blocked by a gate · "
    "4 the deployment ended failed, rejected or cancelled · 5 --timeout reached · 6 the service unreachable. "
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
@click.option(
    "--output",
    "-o",
    envvar="RELMAN_OUTPUT",
    type=click.Choice(["text", "json"]),
    callback=_set_output,
    expose_value=False,
    is_eager=True,
    help="text (for people) or json (exactly one JSON document on stdout). [env: RELMAN_OUTPUT]",
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


# -- whoami ---------------------------------------------------------------------------------------


@cli.command()
@output_option
@click.pass_context
def whoami(ctx: click.Context) -> int:
    """Who the service takes you for, and with what role.

    \b
    Example:
      RELMAN_TOKEN=rm_... relman whoami
    """
    me = client(ctx).get("/auth/me")
    token = me.get("token") or {}
    output.result(
        me,
        lambda m: output.summary(
            [
                ("email", m.get("email")),
                ("name", m.get("display_name")),
                ("role", token.get("role") or m.get("role")),
                ("signed in with", token.get("kind") or "a login session"),
                ("expires", token.get("expires_at")),
            ]
        ),
    )
    return OK


# -- releases ---------------------------------------------------------------------------------------


@cli.group()
def release() -> None:
    """Record, finalize, show, list and cancel releases (a release is its id or APPLICATION@VERSION).

    \b
    Example:
      relman release create --application checkout --version 1.4.0 --from-git --ready
    """


def render_release(r: dict[str, Any]) -> str:
    source = r.get("source") or {}
    lines = output.summary(
        [
            ("release", f"{r.get('application')}@{r.get('version')}"),
            ("id", r.get("id")),
            ("title", r.get("title")),
            ("status", f"{r.get('status')}" + (f" ({r['cancel_reason']})" if r.get("cancel_reason") else "")),
            ("commit", " ".join(x for x in (source.get("repository"), source.get("commit_sha")) if x)),
            ("branch", source.get("branch")),
            ("committed", source.get("committed_at")),
            ("artifacts", ", ".join(f"{a['name']}={a['uri']}" for a in r.get("artifacts") or [])),
            ("created", f"{r.get('created_at')} by {r.get('created_by')}"),
        ]
    )
    deployments = r.get("deployments") or {}
    if deployments:
        rows = [{"environment": name, **summary} for name, summary in deployments.items()]
        lines += "\n\n" + output.table(rows, ["environment", "status", "kind", "live", "finished_at", "deployment_id"])
    if r.get("notes"):
        lines += "\n\n" + output.block("notes", r["notes"])
    return lines


def _artifact(text: str) -> dict[str, str]:
    name, eq, rest = text.partition("=")
    uri, at, digest = rest.rpartition("@sha256:")
    if not eq or not at or not name or not uri:
        raise click.BadParameter(f"{text!r}: expected NAME=URI@sha256:HEX", param_hint="--artifact")
    return {"name": name, "uri": uri, "digest": f"sha256:{digest}"}


@release.command("create")
@click.option("--application", "-a", required=True, help="The application (a lowercase slug).")
@click.option("--version", "version", required=True, help="SemVer 2.0.0, unique per application.")
@click.option("--title", help="One line [default: APPLICATION VERSION].")
@click.option("--notes-file", type=click.File("r"), help="Markdown release notes ('-' reads stdin).")
@click.option("--from-git", is_flag=True, help="Repository, commit, branch and commit time from the working tree.")
@click.option("--repository", help="e.g. github.com/acme/checkout")
@click.option("--commit", "commit_sha", help="The commit's hash.")
@click.option("--branch")
@click.option("--committed-at", help="RFC 3339, e.g. 2026-11-25T16:20:00Z")
@click.option("--artifact", "artifacts", multiple=True, metavar="NAME=URI@sha256:HEX", help="Repeatable.")
@click.option("--ready", is_flag=True, help="Create it ready (content frozen, deployable) rather than a draft.")
@output_option
@click.pass_context
def release_create(
    ctx: click.Context,
    application: str,
    version: str,
    title: str | None,
    notes_file: Any,
    from_git: bool,
    repository: str | None,
    commit_sha: str | None,
    branch: str | None,
    committed_at: str | None,
    artifacts: tuple[str, ...],
    ready: bool,
) -> int:
    """Record a release. Safe to retry: the same inputs send the same Idempotency-Key, so they make one release.

    \b
    Example:
      relman release create --application checkout --version 1.4.0 --from-git \\
        --artifact image=europe-docker.pkg.dev/acme/apps/checkout@sha256:2c26b4... --ready
    """
    body: dict[str, Any] = {
        "application": application,
        "version": version,
        "title": title or f"{application} {version}",
    }
    if notes_file is not None:
        body["notes"] = notes_file.read()
    given = {"repository": repository, "commit_sha": commit_sha, "branch": branch, "committed_at": committed_at}
    if from_git:
        from relman import gitinfo

        body["source"] = gitinfo.source() | {k: v for k, v in given.items() if v}
    elif any(given.values()):
        body["source"] = {k: v for k, v in given.items() if v}
    if artifacts:
        body["artifacts"] = [_artifact(a) for a in artifacts]
    if ready:
        body["status"] = "ready"
    from relman.client import idempotency_key

    made, response = client(ctx).post("/releases", body, key=idempotency_key("/releases", body))
    if response.headers.get("Idempotent-Replayed") == "true":
        say(f"{application}@{version} was recorded by an earlier identical request: that answer is replayed.")
    else:
        say(f"Recorded {application}@{version} ({made.get('status')}).")
    output.result(made, render_release)
    return OK


@release.command("show")
@click.argument("rel", metavar="RELEASE")
@output_option
@click.pass_context
def release_show(ctx: click.Context, rel: str) -> int:
    """A release, with its latest deployment per environment.

    \b
    Example:
      relman release show checkout@1.4.0
    """
    from relman import resolve

    api = client(ctx)
    output.result(api.get(f"/releases/{resolve.release_id(api, rel)}"), render_release)
    return OK


@release.command("finalize")
@click.argument("rel", metavar="RELEASE")
@output_option
@click.pass_context
def release_finalize(ctx: click.Context, rel: str) -> int:
    """Freeze a draft's content: it becomes ready, and deployable.

    \b
    Example:
      relman release finalize checkout@1.4.0
    """
    from relman import resolve

    api = client(ctx)
    done, _ = api.post(f"/releases/{resolve.release_id(api, rel)}/finalize")
    say(f"{done['application']}@{done['version']} is {done['status']}.")
    output.result(done, render_release)
    return OK


@release.command("cancel")
@click.argument("rel", metavar="RELEASE")
@click.option("--reason", required=True, help="Why it must never deploy again.")
@output_option
@click.pass_context
def release_cancel(ctx: click.Context, rel: str, reason: str) -> int:
    """Mark a release bad: never deployable again, never a rollback target.

    \b
    Example:
      relman release cancel checkout@1.5.0 --reason "Checkout errors up 5x"
    """
    from relman import resolve

    api = client(ctx)
    done, _ = api.post(f"/releases/{resolve.release_id(api, rel)}/cancel", {"reason": reason})
    say(f"{done['application']}@{done['version']} is {done['status']}.")
    output.result(done, render_release)
    return OK


@release.command("list")
@click.option("--application", "-a")
@click.option("--environment", "-e", help="Only releases live there now.")
@click.option("--status", type=click.Choice(["draft", "ready", "cancelled"]))
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@output_option
@click.pass_context
def release_list(
    ctx: click.Context, application: str | None, environment: str | None, status: str | None, limit: int
) -> int:
    """Releases, highest version first.

    \b
    Example:
      relman release list --application checkout --environment production
    """
    items = list(
        client(ctx).pages(
            "/releases",
            limit=min(limit, 100),
            max_items=limit,
            application=application,
            environment=environment,
            status=status,
            sort="-version" if application else None,
        )
    )
    output.result(
        {"items": items}, lambda d: output.table(d["items"], ["application", "version", "status", "title", "id"])
    )
    return OK


# -- deployments ------------------------------------------------------------------------------------


def render_deployment(d: dict[str, Any]) -> str:
    return output.summary(
        [
            ("deployment", f"{d.get('release_id')}/{d.get('id')}"),
            ("release", f"{d.get('application')}@{d.get('version')}"),
            ("environment", d.get("environment")),
            ("kind", d.get("kind")),
            ("status", d.get("status")),
            ("approvals", ", ".join(f"{a['decision']} by {a['user_id']}" for a in d.get("approvals") or [])),
            ("log", d.get("log_url")),
            ("message", d.get("message")),
        ]
    )


def _fetcher(api: Client, deployment: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    path = f"/releases/{deployment['release_id']}/deployments/{deployment['id']}"
    return lambda: dict(api.get(path))


def _request(api: Client, rel: str, environment: str, *, override_freeze: bool, reason: str | None) -> dict[str, Any]:
    from relman import resolve
    from relman.client import fresh_key

    body: dict[str, Any] = {"environment": environment}
    if override_freeze:
        body |= {"override_freeze": True, "reason": reason}
    elif reason:
        body["reason"] = reason
    made, _ = api.post(f"/releases/{resolve.release_id(api, rel)}/deployments", body, key=fresh_key())
    what = f"{made['application']}@{made['version']} → {environment}"
    say(f"Requested {what}: {made['status']} (deployment {made['id']}).")
    return dict(made)


def _timeout(value: float | None) -> float | None:
    return None if value is None or value <= 0 else value


TIMEOUT = click.option(
    "--timeout",
    type=float,
    envvar="RELMAN_TIMEOUT",
    show_envvar=True,
    default=3600.0,
    show_default=True,
    help="Seconds to wait before giving up (exit 5); 0 waits for ever.",
)


@cli.command()
@click.argument("rel", metavar="RELEASE")
@click.option("--to", "environment", required=True, metavar="ENV", help="The environment to check.")
@output_option
@click.pass_context
def preflight(ctx: click.Context, rel: str, environment: str) -> int:
    """Every gate that would block a deployment now (exit 3 when one does); nothing is written.

    \b
    Example:
      relman preflight checkout@1.4.0 --to production
    """
    from relman import resolve

    api = client(ctx)
    answer, _ = api.post(
        f"/releases/{resolve.release_id(api, rel)}/deployments/preflight", {"environment": environment}
    )

    def render(a: dict[str, Any]) -> str:
        verdict = "allowed" if a["allowed"] else "blocked"
        return f"{verdict}" + (" (needs approval)" if a.get("needs_approval") else "")

    output.result(answer, render)
    if not answer["allowed"]:
        print_gates(answer["blocking"])
        return BLOCKED
    return OK


@cli.command()
@click.argument("rel", metavar="RELEASE")
@click.option("--to", "environment", required=True, metavar="ENV")
@click.option("--wait", is_flag=True, help="Wait until the deployment may run (approved: queued).")
@TIMEOUT
@click.option("--override-freeze", is_flag=True, help="Deploy through a freeze (admins; needs --reason).")
@click.option("--reason", help="Why (required with --override-freeze).")
@output_option
@click.pass_context
def deploy(
    ctx: click.Context,
    rel: str,
    environment: str,
    wait: bool,
    timeout: float | None,
    override_freeze: bool,
    reason: str | None,
) -> int:
    """Request a deployment; with --wait, until it is approved and may run.

    \b
    Example:
      relman deploy checkout@1.4.0 --to production --wait --timeout 7200
    """
    if override_freeze and not reason:
        raise click.UsageError("--override-freeze needs --reason")
    api = client(ctx)
    made = _request(api, rel, environment, override_freeze=override_freeze, reason=reason)
    if wait:
        from relman import waiting

        made = waiting.wait(_fetcher(api, made), made, until=waiting.RUNNABLE, timeout=_timeout(timeout))
    output.result(made, render_deployment)
    return OK


def _report(api: Client, deployment: dict[str, Any], status: str, **extra: str | None) -> dict[str, Any]:
    """Report a status; sent again after a lost answer, a move already made counts as made."""
    path = f"/releases/{deployment['release_id']}/deployments/{deployment['id']}"
    body = {"status": status} | {k: v for k, v in extra.items() if v}
    try:
        return dict(api.patch(path, body))
    except ApiError as error:
        if error.code == "invalid_transition":
            now = api.get(path)
            if now.get("status") == status:
                return dict(now)
        raise


@cli.command()
@click.argument("ref", metavar="DEPLOYMENT")
@click.option("--status", required=True, type=click.Choice(STATUSES))
@click.option("--log-url", help="Where the pipeline's log is (http/https).")
@click.option("--message")
@output_option
@click.pass_context
def report(ctx: click.Context, ref: str, status: str, log_url: str | None, message: str | None) -> int:
    """Report a deployment's progress (DEPLOYMENT: its id, or RELEASE/DEPLOYMENT).

    \b
    Example:
      relman report 6f1c...e2 --status succeeded --log-url https://ci.example.com/runs/77
    """
    from relman import resolve

    api = client(ctx)
    likely = {"in_progress": "queued", "succeeded": "in_progress", "failed": "in_progress"}[status]
    done = _report(api, resolve.deployment(api, ref, likely_status=likely), status, log_url=log_url, message=message)
    say(f"{done['application']}@{done['version']} → {done['environment']}: {done['status']}.")
    output.result(done, render_deployment)
    return OK


@cli.command(context_settings={"ignore_unknown_options": False})
@click.argument("rel", metavar="RELEASE")
@click.option("--to", "environment", required=True, metavar="ENV")
@TIMEOUT
@click.option(
    "--log-url", envvar="RELMAN_LOG_URL", show_envvar=True, help="The pipeline's log, reported with the status."
)
@click.option("--override-freeze", is_flag=True, help="Deploy through a freeze (admins; needs --reason).")
@click.option("--reason", help="Why (required with --override-freeze).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@output_option
@click.pass_context
def run(
    ctx: click.Context,
    rel: str,
    environment: str,
    timeout: float | None,
    log_url: str | None,
    override_freeze: bool,
    reason: str | None,
    command: tuple[str, ...],
) -> int:
    """Request a deployment, wait for its approval, report in_progress, run COMMAND, report how it ended.

    COMMAND's output streams as it runs (to stderr with --output json). It sees RELMAN_RELEASE_ID,
    RELMAN_DEPLOYMENT_ID, RELMAN_APPLICATION, RELMAN_VERSION and RELMAN_ENVIRONMENT. A COMMAND that
    fails is reported failed (exit 4). Timed out waiting for approval, the deployment is cancelled (exit 5).

    \b
    Example:
      relman run checkout@1.4.0 --to production --timeout 7200 -- ./deploy.sh production
    """
    if override_freeze and not reason:
        raise click.UsageError("--override-freeze needs --reason")
    from relman import waiting

    api = client(ctx)
    made = _request(api, rel, environment, override_freeze=override_freeze, reason=reason)
    try:
        ready = waiting.wait(_fetcher(api, made), made, until=waiting.RUNNABLE, timeout=_timeout(timeout))
    except waiting.TimedOut:
        # Nobody is left to run it: cancelled, it does not start unattended nor block the next run.
        _report(api, made, "cancelled", message="relman run gave up waiting for approval")
        say(f"Cancelled deployment {made['id']}: nothing will run it.")
        raise
    _report(api, ready, "in_progress", log_url=log_url)
    say(f"Running {' '.join(command)}")
    code = _execute(command, ready)
    if code == 0:
        done = _report(api, ready, "succeeded", log_url=log_url)
    else:
        note = f"{command[0]} exited with {code}" if code > 0 else f"{command[0]}: {_why_not(code)}"
        done = _report(api, ready, "failed", log_url=log_url, message=note)
    say(f"{done['application']}@{done['version']} → {environment}: {done['status']}.")
    output.result(done, render_deployment)
    return OK if code == 0 else ENDED_BADLY


def _why_not(code: int) -> str:
    return {-127: "command not found", -126: "not executable"}.get(code, f"killed by signal {-code}")


def _execute(command: tuple[str, ...], deployment: dict[str, Any]) -> int:
    import signal
    import subprocess

    env = os.environ | {
        "RELMAN_RELEASE_ID": str(deployment["release_id"]),
        "RELMAN_DEPLOYMENT_ID": str(deployment["id"]),
        "RELMAN_APPLICATION": str(deployment["application"]),
        "RELMAN_VERSION": str(deployment["version"]),
        "RELMAN_ENVIRONMENT": str(deployment["environment"]),
    }
    sys.stdout.flush()
    stdout = sys.stderr.fileno() if output.is_json() else None  # stdout keeps its one JSON document
    try:
        child = subprocess.Popen(command, env=env, stdout=stdout)  # noqa: S603 (the user's own command, no shell)
    except FileNotFoundError:
        say(f"{command[0]}: command not found")
        return -127
    except PermissionError:
        say(f"{command[0]}: not executable")
        return -126
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))  # the CI cancels
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        return child.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


@cli.command()
@click.argument("ref", metavar="DEPLOYMENT")
@click.option("--comment", "-c", default="", help="e.g. the change ticket.")
@output_option
@click.pass_context
def approve(ctx: click.Context, ref: str, comment: str) -> int:
    """Approve a deployment waiting for approval (DEPLOYMENT: its id, or RELEASE/DEPLOYMENT).

    \b
    Example:
      relman approve 6f1c...e2 --comment CHG-2231
    """
    return _decide(ctx, ref, "approve", comment)


@cli.command()
@click.argument("ref", metavar="DEPLOYMENT")
@click.option("--comment", "-c", default="", help="Why.")
@output_option
@click.pass_context
def reject(ctx: click.Context, ref: str, comment: str) -> int:
    """Reject a deployment waiting for approval: it will not run.

    \b
    Example:
      relman reject 6f1c...e2 --comment "Not during the sale"
    """
    return _decide(ctx, ref, "reject", comment)


def _decide(ctx: click.Context, ref: str, decision: str, comment: str) -> int:
    from relman import resolve
    from relman.client import fresh_key

    api = client(ctx)
    target = resolve.deployment(api, ref, likely_status="pending_approval")
    path = f"/releases/{target['release_id']}/deployments/{target['id']}/approvals"
    decided, _ = api.post(path, {"decision": decision, "comment": comment}, key=fresh_key())
    now = decided["deployment"]
    done = {"approve": "Approved", "reject": "Rejected"}[decision]
    say(f"{done} {now['application']}@{now['version']} → {now['environment']}: now {now['status']}.")
    output.result(decided, lambda d: render_deployment(d["deployment"]))
    return OK


@cli.command()
@click.argument("application")
@click.option("--env", "environment", required=True, metavar="ENV")
@click.option("--reason", required=True)
@click.option("--wait", is_flag=True, help="Wait until the rollback is reported succeeded (exit 4 if it fails).")
@TIMEOUT
@output_option
@click.pass_context
def rollback(ctx: click.Context, application: str, environment: str, reason: str, wait: bool, timeout: float) -> int:
    """Redeploy the last good release before the live one (no approval; allowed in a freeze).

    \b
    Example:
      relman rollback checkout --env production --reason "Checkout errors up 5x"
    """
    from relman.client import fresh_key

    api = client(ctx)
    body = {"application": application, "environment": environment, "reason": reason}
    made, _ = api.post("/releases/rollback", body, key=fresh_key())
    target = f"{made['version']} (deployment {made['release_id']}/{made['id']})"
    say(f"Rolling {application} in {environment} back to {target}.")
    if wait:
        from relman import waiting

        made = waiting.wait(_fetcher(api, made), made, until=waiting.LANDED, timeout=_timeout(timeout))
    output.result(made, render_deployment)
    return OK


# -- reading ----------------------------------------------------------------------------------------


@cli.command()
@click.argument("application")
@output_option
@click.pass_context
def status(ctx: click.Context, application: str) -> int:
    """What is live where: per environment, the live release, the one before it, and any deployment under way.

    \b
    Example:
      relman status checkout
    """
    overview = client(ctx).get("/releases/overview", application=application)

    def render(o: dict[str, Any]) -> str:
        def cell(entry: dict[str, Any] | None) -> str | None:
            if not entry:
                return None
            return str(entry["version"]) + (" (rollback)" if entry.get("kind") == "rollback" else "")

        rows = []
        for name, stage in o["environments"].items():
            moving = stage.get("in_progress")
            under_way = f"{moving['version']} {moving['status']}" if moving else None
            rows.append(
                {
                    "environment": name,
                    "live": cell(stage.get("live")),
                    "previous": cell(stage.get("previous")),
                    "under way": under_way,
                }
            )
        return output.table(rows, ["environment", "live", "previous", "under way"])

    output.result(overview, render)
    return OK


@cli.command()
@click.option("--application", "-a")
@click.option("--environment", "-e", default="production", show_default=True)
@click.option("--days", type=click.IntRange(1, 365), default=30, show_default=True)
@output_option
@click.pass_context
def metrics(ctx: click.Context, application: str | None, environment: str, days: int) -> int:
    """DORA metrics over the last DAYS days, with the counts behind each figure.

    \b
    Example:
      relman metrics --application checkout --days 90
    """
    found = client(ctx).get("/releases/metrics", application=application, environment=environment, days=days)

    def render(m: dict[str, Any]) -> str:
        f, lead = m["deployment_frequency"], m["lead_time_for_changes"]
        cfr, ttr, rw = m["change_failure_rate"], m["time_to_restore"], m["rework_rate"]
        return output.summary(
            [
                (
                    "window",
                    f"{m['days']} days in {m['environment']}"
                    + (f" for {m['application']}" if m["application"] else ""),
                ),
                ("deployment frequency", f"{f['per_day']:.2f}/day ({f['deployments']} deployments)"),
                ("lead time (p50/p90)", f"{lead['p50_hours']} h / {lead['p90_hours']} h"),
                ("change failure rate", f"{cfr['rate']} ({cfr['failures']} of {cfr['deployments']})"),
                ("time to restore (p50)", f"{ttr['p50_hours']} h ({ttr['restores']} of {ttr['failures']} restored)"),
                ("rework rate", f"{rw['rate']} ({rw['rework']} of {rw['deployments']})"),
            ]
        )

    output.result(found, render)
    return OK


# -- freezes ----------------------------------------------------------------------------------------


@cli.group()
def freeze() -> None:
    """Freeze windows: no deployments to an environment (or all) while one is active.

    \b
    Example:
      relman freeze create --env production --weekly "fri 16:00-23:59" --timezone Europe/Berlin \\
        --reason "No Friday deploys"
    """


def render_freezes(d: dict[str, Any]) -> str:
    rows = []
    for f in d["items"]:
        when = (
            "; ".join(f"{w['day']} {w['start']}-{w['end']}" for w in f["weekly"]) + f" {f.get('timezone')}"
            if f.get("weekly")
            else f"{f.get('starts_at')} → {f.get('ends_at')}"
        )
        rows.append(f | {"environment": f.get("environment") or "(all)", "when": when})
    return output.table(rows, ["id", "environment", "when", "active", "reason"])


@freeze.command("list")
@click.option("--env", "environment")
@click.option("--active", is_flag=True, default=None, help="Only windows active now.")
@output_option
@click.pass_context
def freeze_list(ctx: click.Context, environment: str | None, active: bool | None) -> int:
    """Freeze windows, each saying whether it is active now.

    \b
    Example:
      relman freeze list --env production --active
    """
    items = list(client(ctx).pages("/releases/freezes", environment=environment, active=_flag(active)))
    output.result({"items": items}, render_freezes)
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
@click.option("--env", "environment", help="The environment [default: all].")
@click.option("--starts-at", help="RFC 3339 (a one-off window).")
@click.option("--ends-at", help="RFC 3339.")
@click.option("--weekly", multiple=True, metavar="'DAY HH:MM-HH:MM'", help="A weekly window (repeatable).")
@click.option("--timezone", help="IANA zone of the weekly windows, e.g. Europe/Berlin.")
@click.option("--reason", required=True)
@output_option
@click.pass_context
def freeze_create(
    ctx: click.Context,
    environment: str | None,
    starts_at: str | None,
    ends_at: str | None,
    weekly: tuple[str, ...],
    timezone: str | None,
    reason: str,
) -> int:
    """A one-off (--starts-at/--ends-at) or weekly (--weekly, --timezone) freeze window.

    \b
    Example:
      relman freeze create --env production --starts-at 2026-12-24T00:00:00Z \\
        --ends-at 2026-12-27T00:00:00Z --reason Holidays
    """
    body: dict[str, Any] = {"environment": environment, "reason": reason}
    if weekly:
        body |= {"weekly": [_weekly(w) for w in weekly], "timezone": timezone}
    else:
        body |= {"starts_at": starts_at, "ends_at": ends_at}
    from relman.client import fresh_key

    made, _ = client(ctx).post("/releases/freezes", {k: v for k, v in body.items() if v is not None}, key=fresh_key())
    say(f"Freeze {made['id']} created.")
    output.result(made, lambda f: render_freezes({"items": [f]}))
    return OK


@freeze.command("delete")
@click.argument("freeze_id", metavar="FREEZE")
@output_option
@click.pass_context
def freeze_delete(ctx: click.Context, freeze_id: str) -> int:
    """End a freeze window.

    \b
    Example:
      relman freeze delete 3f0e...
    """
    client(ctx).delete(f"/releases/freezes/{freeze_id}")
    say(f"Freeze {freeze_id} deleted.")
    output.result({"id": freeze_id, "deleted": True}, lambda _: "")
    return OK


# -- the entry point ------------------------------------------------------------------------------


def print_gates(gates: list[dict[str, Any]]) -> None:
    say(f"relman: blocked by {len(gates)} gate{'s' if len(gates) != 1 else ''}:")
    for gate in gates:
        say(f"  {gate.get('code')}: {gate.get('detail') or gate.get('message') or ''}")


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
            print_gates(error.gates)
        else:
            say(f"relman: {error.message}")
        if output.is_json():
            output.result(error.document)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        say("Interrupted.")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else OK)
