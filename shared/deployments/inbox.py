"""The approvals inbox: each deployment waiting for approval with what a person needs to decide it
(the release's title and the first paragraph of its notes, who asked, what each approval rule still
needs) and whether the caller may approve or reject it, or the API's own reason why not.

`GET /releases/approval-requests` and the console's inbox are this one read: a keyset page, newest
first, in six queries whatever its size (the deployments with their releases, their approvals, the
people's names, the releases' authors, the applications' paths, the environments)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.auth.principal import Principal
from shared.deployments import approvals
from shared.deployments.read_models import (
    SUMMARY_CHARACTERS,
    ApprovalRequestQuery,
)
from shared.deployments.records import NEWEST_FIRST, with_decisions
from shared.deployments.tables import deployments
from shared.pagination import keyset_page
from shared.platform.work import UnitOfWork
from shared.releases.tables import releases


def summary(notes: str) -> str:
    """The first paragraph of release notes, on one line, at most `SUMMARY_CHARACTERS` long."""
    first = next((part.strip() for part in notes.split("\n\n") if part.strip()), "")
    flat = " ".join(first.split())
    return flat if len(flat) <= SUMMARY_CHARACTERS else flat[: SUMMARY_CHARACTERS - 1].rstrip() + "…"


def approval_requests(
    work: UnitOfWork, caller: Principal, query: ApprovalRequestQuery
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of deployments waiting for approval, newest first, each as `ApprovalRequestOut`."""
    chosen = (
        sa.select(
            deployments,
            releases.c.title.label("release_title"),
            releases.c.notes.label("release_notes"),
            releases.c.created_by.label("release_created_by"),
        )
        .join(releases, releases.c.id == deployments.c.release_id)
        .where(deployments.c.status == "pending_approval")
    )
    for column, value in (("application", query.application), ("environment", query.environment)):
        if value is not None:
            chosen = chosen.where(deployments.c[column] == value)
    rows, cursor = keyset_page(work.conn, chosen, NEWEST_FIRST, limit=query.limit, cursor=query.cursor)
    waiting = with_decisions(work.conn, rows)
    refused = approvals.refusals(work, waiting, caller, created_by={r.release_id: r.release_created_by for r in rows})
    items = []
    for row, deployment in zip(rows, waiting, strict=True):
        error = refused[str(row.id)]
        items.append(
            {
                "deployment": deployment,
                "release": {"id": row.release_id, "title": row.release_title, "summary": summary(row.release_notes)},
                "still_needed": [rule for rule in deployment["approval_rules"] if rule["remaining"]],
                "may_approve": error is None,
                "may_reject": error is None or error.code == "approval_not_needed",
                "refusal": None if error is None else {"code": error.code, "detail": error.detail},
            }
        )
    return items, cursor
