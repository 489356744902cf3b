"""Shell completion of what lives on the service: application names, and `APPLICATION@VERSION` for a
release. Completion asks the service with the settings relman would use (profile, sign-in), waits
at most two seconds and never retries; when anything fails it offers nothing rather than an error
in the middle of the person's typing."""

from __future__ import annotations

from typing import Any

import click
from click.shell_completion import CompletionItem

LIMIT = 200  # names offered at most


def _client(ctx: click.Context) -> Any:
    from relman import settings
    from relman.client import Client, Settings

    root = ctx.find_root()
    obj = settings.resolve(root, dict(root.params))
    found = Settings(
        url=obj["url"] or "",
        token=obj["token"],
        service_account=obj["service_account"],
        audience=obj["audience"],
        retry_seconds=0,
        profile=obj["profile"],
        fail_fast=True,
    )
    api = Client(found)
    api.http.timeout = 2.0  # httpx takes one number for every phase
    return api


def applications(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The applications whose name starts with what is typed."""
    try:
        names = [a["name"] for a in _client(ctx).pages("/releases/applications", max_items=LIMIT)]
    except Exception:  # noqa: BLE001 - completion offers nothing rather than fail the shell
        return []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def releases(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`APPLICATION@` for a name being typed; once it has its `@`, that application's versions,
    newest (by SemVer) first."""
    application, at, version = incomplete.partition("@")
    if not at:
        return [CompletionItem(f"{item.value}@", type="nospace") for item in applications(ctx, param, application)]
    try:
        found = _client(ctx).pages("/releases", application=application, sort="-version", max_items=LIMIT)
        versions = [r["version"] for r in found]
    except Exception:  # noqa: BLE001 - as above
        return []
    return [CompletionItem(f"{application}@{v}") for v in versions if v.startswith(version)]
