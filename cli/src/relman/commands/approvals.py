"""Approvals: `relman approve` and `relman reject`."""

from __future__ import annotations

import click

from relman import output
from relman.commands import client
from relman.errors import OK
from relman.output import say


@click.command()
@click.argument("ref", metavar="DEPLOYMENT")
@click.option("--comment", "-c", default="", help="e.g. the change ticket.")
@click.pass_context
def approve(ctx: click.Context, ref: str, comment: str) -> int:
    """Approve a deployment waiting for approval (DEPLOYMENT: its id, or RELEASE/DEPLOYMENT).

    \b
    Example:
      relman approve 6f1c...e2 --comment CHG-2231
    """
    return _decide(ctx, ref, "approve", comment)


@click.command()
@click.argument("ref", metavar="DEPLOYMENT")
@click.option("--comment", "-c", default="", help="Why.")
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
    output.result(decided, lambda d: output.render_deployment(d["deployment"]))
    return OK
