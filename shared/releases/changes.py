"""What changes when a release goes where another is live: the releases in between, newest first,
and the commit range, with a link where the repository's host has a compare view."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from shared.releases.rules import version_sort_key
from shared.releases.tables import releases

# Hosts whose compare view is a URL of the two commits: `{base}` and `{head}` are filled in.
_COMPARE = {
    "github.com": "https://github.com/{path}/compare/{base}...{head}",
    "gitlab.com": "https://gitlab.com/{path}/-/compare/{base}...{head}",
    "bitbucket.org": "https://bitbucket.org/{path}/branches/compare/{head}..{base}",
}
_REPOSITORY = re.compile(r"^(?:https?://)?(?:www\.)?(?P<host>[^/]+)/(?P<path>[^?#]+?)(?:\.git)?/?$")


def compare_link(repository: str | None, base: str | None, head: str | None) -> str | None:
    """The host's compare view of `base`..`head` in `repository` (None: an unknown host, or a commit missing)."""
    if not repository or not base or not head:
        return None
    found = _REPOSITORY.match(repository.strip())
    if found is None or found["host"].lower() not in _COMPARE:
        return None
    return _COMPARE[found["host"].lower()].format(path=found["path"], base=base, head=head)


def between(
    conn: sa.Connection, *, application: str, live: str | None, target: str, limit: int = 50
) -> list[dict[str, Any]]:
    """The releases of `application` after `live` (by SemVer; None: from the first) up to `target`,
    newest first, uncancelled, at most `limit`: what deploying `target` brings where `live` runs.
    Empty when `target` is live or older (going back is a rollback)."""
    upper = version_sort_key(target)
    columns = (releases.c.id, releases.c.version, releases.c.title, releases.c.notes, releases.c.source)
    query = sa.select(*columns, releases.c.status).where(
        releases.c.application == application,
        releases.c.version_key <= upper,
        releases.c.status != "cancelled",
    )
    if live is not None:
        query = query.where(releases.c.version_key > version_sort_key(live))
    return [row._asdict() for row in conn.execute(query.order_by(releases.c.version_key.desc()).limit(limit))]
