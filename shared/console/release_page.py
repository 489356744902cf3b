"""The console's page of one release: its notes (Markdown, sanitised), source and digests, where
it is deployed, what it changes against what is live in each environment of its path (the
releases in between and the commit range), and its timeline from the audit log."""

from __future__ import annotations

import uuid
from typing import Any

import flask
import sqlalchemy as sa

from shared import catalog
from shared.auth import roles
from shared.console.markup import notes_html
from shared.console.pages import blueprint, signed_in
from shared.deployments.overview import overview
from shared.deployments.records import list_deployments
from shared.platform.work import UnitOfWork
from shared.releases import changes
from shared.releases.service import release_events
from shared.releases.tables import releases


def what_changes(work: UnitOfWork, release: dict[str, Any]) -> list[dict[str, Any]]:
    """Per environment of the release's path: what is live there, and what deploying this release
    would bring (the releases in between, newest first, and the commit range with its link)."""
    application = release["application"]
    live = overview(work, application=application)["environments"]
    head = (release.get("source") or {}).get("commit_sha")
    repository = (release.get("source") or {}).get("repository")
    shown = []
    for stage in catalog.get_application(work, name=application)["path"]:
        here = (live.get(stage["environment"]) or {}).get("live")
        if here is not None and str(here["release_id"]) == str(release["id"]):
            shown.append({"environment": stage["environment"], "live": here, "state": "live"})
            continue
        brought = changes.between(
            work.conn, application=application, live=here["version"] if here else None, target=release["version"]
        )
        base = _commit_of(work.conn, here["release_id"]) if here else None
        state = "brings" if brought else "older"
        shown.append(
            {
                "environment": stage["environment"],
                "live": here,
                "state": state,
                "releases": brought,
                "range": (base, head) if base and head else None,
                "link": changes.compare_link(repository, base, head),
            }
        )
    return shown


def _commit_of(conn: sa.Connection, release_id: Any) -> str | None:
    source = conn.scalar(sa.select(releases.c.source).where(releases.c.id == release_id))
    return (source or {}).get("commit_sha")


@blueprint.get("/releases/<uuid:release_id>")
def release_page(release_id: uuid.UUID) -> Any:
    """A release, where it is deployed, what it changes where, and its timeline."""
    me = signed_in()
    roles.require(me.principal.grants, "viewer")
    work = flask.g.work
    release = catalog.get_release(work, release_id=release_id)
    deployed, _ = list_deployments(work, limit=100, cursor=None, release_id=release_id)
    timeline, _ = release_events(work, release_id=release_id, limit=100, cursor=None)
    return flask.render_template(
        "release.html",
        release=release,
        notes=notes_html(release["notes"]),
        deployed=deployed,
        changes=what_changes(work, release),
        timeline=timeline,
    )
