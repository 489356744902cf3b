"""The approvals inbox: each deployment waiting for approval with what a person needs to decide it
(the release's title and the first paragraph of its notes, who asked, what each approval rule still
needs) and whether the caller may approve or reject it, or the API's own reason why not.

`GET /releases/approval-requests` and the console's inbox are this one read: a keyset page, newest
first, in six queries whatever its size (the deployments with their releases, their approvals, the
people's names, the releases' authors, the applications' paths, the environments)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from pydantic import Field

from shared.auth.principal import Principal
from shared.deployments import approvals
from shared.deployments.records import NEWEST_FIRST, with_decisions
from shared.deployments.schemas import DeploymentOut, RuleProgressOut
from shared.deployments.tables import deployments
from shared.models import Out
from shared.names import SLUG_PATTERN
from shared.pagination import PageQuery, keyset_page
from shared.platform.db import UnitOfWork
from shared.releases.tables import releases

SUMMARY_CHARACTERS = 280


class ApprovalRequestQuery(PageQuery):
    application: str | None = Field(default=None, pattern=SLUG_PATTERN, description="Only this application.")
    environment: str | None = Field(default=None, max_length=63, description="Only this environment.")


class ReleaseBriefOut(Out):
    id: uuid.UUID
    title: str
    summary: str = Field(description=f"The first paragraph of the notes, at most {SUMMARY_CHARACTERS} characters.")


class RefusalOut(Out):
    code: str = Field(description="The code the decision would be refused with (Errors).")
    detail: str


class ApprovalRequestOut(Out):
    deployment: DeploymentOut
    release: ReleaseBriefOut
    still_needed: list[RuleProgressOut] = Field(description="The deployment's approval rules not yet met.")
    may_approve: bool = Field(description="true: the caller may approve it now.")
    may_reject: bool = Field(
        description="true: the caller may reject it now (also when their approval is not needed, "
        "`approval_not_needed`: their group's rules are met)."
    )
    refusal: RefusalOut | None = Field(description="Why the caller may not approve it (null: they may).")


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
