"""What changes between two releases of an application, or between what is live in an environment and
a candidate: the releases in between (newest first, uncancelled), their titles and notes, and the
commit range with a link to the repository host's compare view (GitHub, GitLab, Bitbucket; Cloud
Source Repositories has no compare view, so there the range comes without a link).
`GET /releases/compare` is this read."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.deployments.queries import live_there
from shared.deployments.read_models import CompareQuery
from shared.deployments.schemas import SUMMARY_RELEASES, Direction
from shared.deployments.tables import deployments, environments
from shared.errors import Invalid, NotFound
from shared.releases import changes
from shared.releases.rules import version_sort_key
from shared.releases.tables import releases


def summary(conn: sa.Connection, *, application: str, environment: str, version: str) -> dict[str, Any]:
    """What deploying `version` to `environment` changes, in short (preflight's and an approval
    request's `changes`)."""
    query = CompareQuery.model_validate({"application": application, "to": version, "environment": environment})
    found = compare(conn, query)
    return {
        "base_version": found["base"]["version"] if found["base"] else None,
        "direction": found["direction"],
        "count": len(found["releases"]),
        "releases": [{"version": r["version"], "title": r["title"]} for r in found["releases"][:SUMMARY_RELEASES]],
        "commit_range": found["commit_range"],
        "compare_url": found["compare_url"],
    }


def compare(conn: sa.Connection, query: CompareQuery) -> dict[str, Any]:
    """The comparison `CompareOut` describes."""
    head = _release(conn, query.application, query.to)
    base = _release(conn, query.application, query.from_) if query.from_ is not None else None
    if query.environment is not None:
        base = _live(conn, query.application, query.environment)
    if base is None or base.version == head.version:
        direction: Direction = "same" if base is not None else "forward"
    else:
        direction = "forward" if version_sort_key(head.version) > version_sort_key(base.version) else "backward"
    low, high = (base, head) if direction == "forward" else (head, base)
    between = [] if direction == "same" else _between(conn, query.application, low, high)
    base_sha, head_sha = _sha(base), _sha(head)
    repository = (head.source or {}).get("repository") or (base.source or {} if base is not None else {}).get(
        "repository"
    )
    return {
        "application": query.application,
        "base": _end(base) if base is not None else None,
        "head": _end(head),
        "direction": direction,
        "releases": between,
        "commit_range": f"{base_sha}...{head_sha}" if base_sha and head_sha and direction != "same" else None,
        "compare_url": changes.compare_link(repository, base_sha, head_sha) if direction != "same" else None,
    }


def _release(conn: sa.Connection, application: str, version: str) -> Any:
    row = conn.execute(
        sa.select(releases.c.id, releases.c.version, releases.c.source).where(
            releases.c.application == application, releases.c.version == version
        )
    ).first()
    if row is None:
        raise NotFound(f"There is no release {application} {version}.", code="release_not_found")
    return row


def _live(conn: sa.Connection, application: str, environment: str) -> Any:
    """The release live in `environment` (its latest success there), or None."""
    if conn.scalar(sa.select(environments.c.name).where(environments.c.name == environment)) is None:
        raise Invalid(f"There is no environment {environment!r}.", code="unknown_environment")
    live = live_there(application, environment, deployments.c.release_id).scalar_subquery()
    return conn.execute(
        sa.select(releases.c.id, releases.c.version, releases.c.source).where(releases.c.id == live)
    ).first()


def _between(conn: sa.Connection, application: str, low: Any, high: Any) -> list[dict[str, Any]]:
    """The uncancelled releases after `low` (None: from the first) up to `high`, newest first."""
    found = changes.between(
        conn, application=application, live=low.version if low is not None else None, target=high.version, limit=100
    )
    return [
        {key: r[key] for key in ("id", "version", "title", "notes", "status")}
        | {"commit_sha": (r["source"] or {}).get("commit_sha")}
        for r in found
    ]


def _sha(row: Any) -> str | None:
    return None if row is None else (row.source or {}).get("commit_sha")


def _end(row: Any) -> dict[str, Any]:
    return {"release_id": row.id, "version": row.version, "commit_sha": _sha(row)}
