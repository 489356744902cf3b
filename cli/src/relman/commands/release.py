"""`relman release`: record, finalize, show, list and cancel releases."""

from __future__ import annotations

from typing import Any

import click

from relman import complete, output
from relman.commands import Group, client, env_option
from relman.errors import OK
from relman.output import say


@click.group(cls=Group)
def release() -> None:
    """Record, finalize, show, list and cancel releases (a release is its id or APPLICATION@VERSION).

    \b
    Example:
      relman release create --application checkout --version 1.4.0 --from-git --ready
    """


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
@click.option(
    "--fix", "incident_url", metavar="INCIDENT_URL", help="A fix for this incident (a freeze may let fixes through)."
)
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
    incident_url: str | None,
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
    if incident_url:
        body |= {"kind": "fix", "incident_url": incident_url}
    from relman.client import idempotency_key

    made, response = client(ctx).post("/releases", body, key=idempotency_key("/releases", body))
    if response.headers.get("Idempotent-Replayed") == "true":
        say(f"{application}@{version} was recorded by an earlier identical request: that answer is replayed.")
    else:
        say(f"Recorded {application}@{version} ({made.get('status')}).")
    output.result(made, output.render_release)
    return OK


@release.command("show")
@click.argument("rel", metavar="RELEASE", shell_complete=complete.releases)
@click.pass_context
def release_show(ctx: click.Context, rel: str) -> int:
    """A release, with its latest deployment per environment.

    \b
    Example:
      relman release show checkout@1.4.0
    """
    from relman import resolve

    api = client(ctx)
    output.result(api.get(f"/releases/{resolve.release_id(api, rel)}"), output.render_release)
    return OK


@release.command("finalize")
@click.argument("rel", metavar="RELEASE", shell_complete=complete.releases)
@click.pass_context
def release_finalize(ctx: click.Context, rel: str) -> int:
    """Freeze a draft's content: it becomes ready, and deployable.

    \b
    Example:
      relman release finalize checkout@1.4.0
    """
    return _move(ctx, rel, "finalize")


@release.command("cancel")
@click.argument("rel", metavar="RELEASE", shell_complete=complete.releases)
@click.option("--reason", required=True, help="Why it must never deploy again.")
@click.pass_context
def release_cancel(ctx: click.Context, rel: str, reason: str) -> int:
    """Mark a release bad: never deployable again, never a rollback target.

    \b
    Example:
      relman release cancel checkout@1.5.0 --reason "Checkout errors up 5x"
    """
    return _move(ctx, rel, "cancel", {"reason": reason})


def _move(ctx: click.Context, rel: str, action: str, body: dict[str, Any] | None = None) -> int:
    """Finalize or cancel a release, and say what it now is."""
    from relman import resolve

    api = client(ctx)
    done, _ = api.post(f"/releases/{resolve.release_id(api, rel)}/{action}", body)
    say(f"{done['application']}@{done['version']} is {done['status']}.")
    output.result(done, output.render_release)
    return OK


@release.command("list")
@click.option("--application", "-a")
@env_option("Only releases live there now.")
@click.option("--status", type=click.Choice(["draft", "ready", "cancelled"]))
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.pass_context
def release_list(
    ctx: click.Context, application: str | None, environment: str | None, status: str | None, limit: int
) -> int:
    """Releases, highest version first.

    \b
    Example:
      relman release list --application checkout --environment production
    """
    items = client(ctx).pages(
        "/releases",
        limit=min(limit, 100),
        max_items=limit,
        application=application,
        environment=environment,
        status=status,
        sort="-version" if application else None,
    )
    output.result({"items": list(items)}, output.render_releases)
    return OK
