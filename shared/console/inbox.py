"""The approvals inbox: each deployment waiting for approval with what a person needs to decide it
(the release, its notes in short, who asked, what each approval rule still needs) and whether this
person may, or the API's own reason why not."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared.auth.principal import Principal
from shared.auth.tables import users
from shared.deployments import approvals
from shared.platform.db import UnitOfWork
from shared.releases.tables import releases

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
    """What the inbox shows for each waiting deployment; `refused` is None where the caller may
    decide. A few queries for all of them, however many wait."""
    names = people(work, {d["requested_by"] for d in waiting})
    told = (
        {
            row.id: row
            for row in work.conn.execute(
                sa.select(releases.c.id, releases.c.title, releases.c.notes, releases.c.created_by).where(
                    releases.c.id.in_(list({d["release_id"] for d in waiting}))
                )
            )
        }
        if waiting
        else {}
    )
    refused = approvals.refusals(work, waiting, caller, created_by={i: r.created_by for i, r in told.items()})
    shown = []
    for deployment in waiting:
        release = told[deployment["release_id"]]
        error = refused[str(deployment["id"])]
        shown.append(
            {
                "deployment": deployment,
                "release": {"title": release.title, "notes": release.notes},
                "summary": summary(release.notes),
                "still_needed": [rule for rule in deployment["approval_rules"] if rule["remaining"]],
                "refused": {"code": error.code, "detail": error.detail} if error is not None else None,
                "requester": names.get(str(deployment["requested_by"]), "someone"),
            }
        )
    return shown
