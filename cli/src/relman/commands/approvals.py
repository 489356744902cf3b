"""Approvals: `relman approvals` (the inbox), `relman approve` and `relman reject`."""

from __future__ import annotations

from typing import Any

import click

from relman import output
from relman.commands import client, env_option
from relman.errors import OK
from relman.output import say
from relman.words import still_needed


@click.command()
@click.option("--application", "-a", help="Only this application's requests.")
@env_option("Only the requests for this environment.")
@click.option("--mine", is_flag=True, help="Only what you may approve now.")
@click.pass_context
def approvals(ctx: click.Context, application: str | None, environment: str | None, mine: bool) -> int:
    """The approvals inbox: every deployment waiting for approval, newest first, with what it changes,
    who asked, what its approval rules still need, and whether you may approve it (or why not).

    \b
    Examples:
      relman approvals --mine
      relman approvals -o json | jq -r '.items[] | select(.may_approve) | .deployment.id'
    """
    items = list(client(ctx).pages("/releases/approval-requests", application=application, environment=environment))
    if mine:
        items = [item for item in items if item["may_approve"]]
    output.result({"items": items}, _render)
    return OK


def _render(found: dict[str, Any]) -> str:
    rows = []
    for item in found["items"]:
        d = item["deployment"]
        you = "may approve" if item["may_approve"] else (item["refusal"] or {}).get("code", "-")
        rows.append(
            {
                "release": f"{d['application']}@{d['version']}",
                "env": d["environment"],
                "requested by": d.get("requested_by_name") or d["requested_by"],
                "still needed": still_needed(item["still_needed"]),
                "you": you,
                "title": _one_line(item["release"]["title"], item["release"]["summary"]),
            }
        )
    if not rows:
        return "Nothing is waiting for approval."
    hint = "\n\nApprove with: relman approve APPLICATION@VERSION --env ENV [--comment C]"
    return output.table(rows, ["release", "env", "requested by", "still needed", "you", "title"]) + hint


def _one_line(title: str, summary: str, width: int = 60) -> str:
    text = f"{title}: {summary}" if summary else title
    return text if len(text) <= width else text[: width - 1] + "…"


@click.command()
@click.argument("ref", metavar="DEPLOYMENT")
@env_option("With APPLICATION@VERSION: the environment of its deployment.")
@click.option("--comment", "-c", default="", help="e.g. the change ticket.")
@click.pass_context
def approve(ctx: click.Context, ref: str, environment: str | None, comment: str) -> int:
    """Approve a deployment waiting for approval. DEPLOYMENT: its id, RELEASE/DEPLOYMENT, or the
    release (APPLICATION@VERSION) with --env.

    \b
    Examples:
      relman approve checkout@1.4.0 --env production --comment CHG-2231
      relman approve 6f1c...e2
    """
    return _decide(ctx, ref, environment, "approve", comment)


@click.command()
@click.argument("ref", metavar="DEPLOYMENT")
@env_option("With APPLICATION@VERSION: the environment of its deployment.")
@click.option("--comment", "-c", default="", help="Why.")
@click.pass_context
def reject(ctx: click.Context, ref: str, environment: str | None, comment: str) -> int:
    """Reject a deployment waiting for approval: it will not run (DEPLOYMENT as for approve).

    \b
    Example:
      relman reject checkout@1.4.0 --env production --comment "Not during the sale"
    """
    return _decide(ctx, ref, environment, "reject", comment)


def _decide(ctx: click.Context, ref: str, environment: str | None, decision: str, comment: str) -> int:
    from relman import resolve
    from relman.client import fresh_key

    api = client(ctx)
    target = resolve.deployment(api, ref, likely_status="pending_approval", environment=environment)
    path = f"/releases/{target['release_id']}/deployments/{target['id']}/approvals"
    decided, _ = api.post(path, {"decision": decision, "comment": comment}, key=fresh_key())
    now = decided["deployment"]
    done = {"approve": "Approved", "reject": "Rejected"}[decision]
    say(f"{done} {now['application']}@{now['version']} → {now['environment']}: now {now['status']}.")
    output.result(decided, lambda d: output.render_deployment(d["deployment"]))
    return OK
