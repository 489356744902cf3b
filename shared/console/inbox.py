"""The approvals inbox: each deployment waiting for approval with what a person needs to decide it
(the release, its notes in short, who asked, what each approval rule still needs) and whether this
person may, or the API's own reason why not."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared import catalog
from shared.auth.principal import Principal
from shared.auth.tables import users
from shared.deployments import approvals
from shared.deployments.records import get_deployment
from shared.errors import DomainError
from shared.platform.db import UnitOfWork
from shared.releases.service import load_release

SUMMARY_CHARACTERS = 280


def summary(notes: str) -> str:
    """The first paragraph of release notes, at most `SUMMARY_CHARACTERS` long."""
    first = next((part.strip() for part in notes.split("\n\n") if part.strip()), "")
    flat = " ".join(first.split())
    return flat if len(flat) <= SUMMARY_CHARACTERS else flat[: SUMMARY_CHARACTERS - 1].rstrip() + "…"


def people(work: UnitOfWork, ids: set[Any]) -> dict[str, str]:
    """Each user's display name (else email), by id as text: one query."""
    if not ids:
        return {}
    rows = work.conn.execute(
        sa.select(users.c.id, sa.func.coalesce(users.c.display_name, users.c.email).label("name")).where(
            users.c.id.in_([uuid.UUID(str(i)) for i in ids])
        )
    )
    return {str(row.id): row.name for row in rows}


def entries(work: UnitOfWork, waiting: list[dict[str, Any]], caller: Principal) -> list[dict[str, Any]]:
    """What the inbox shows for each waiting deployment; `refused` is None where the caller may decide."""
    names = people(work, {d["requested_by"] for d in waiting})
    shown = []
    for deployment in waiting:
        release = catalog.get_release(work, release_id=deployment["release_id"])
        row = get_deployment(work, release_id=deployment["release_id"], deployment_id=deployment["id"])
        try:
            approvals.eligibility(work, release=load_release(work.conn, row.release_id), row=row, caller=caller)
            refused = None
        except DomainError as error:
            refused = {"code": error.code, "detail": error.detail}
        still = [rule for rule in deployment["approval_rules"] if rule["remaining"]]
        shown.append(
            {
                "deployment": deployment,
                "release": release,
                "summary": summary(release["notes"]),
                "still_needed": still,
                "refused": refused,
                "requester": names.get(str(deployment["requested_by"]), "someone"),
            }
        )
    return shown
