"""The release catalogue: releases as the API shows them, with where each is deployed.

The one place above both `shared.releases` and `shared.deployments` that reads across them (the
release read's deployment summary, the list's "live in environment" filter) and writes across them
(a cancel ends the release's deployments not yet started), so the dependency between the two
concepts runs one way: deployments use releases, never the other way round. It also shows
applications with the path their gates follow (their own, or the environments catalogue). The
releases function's views call this module.

The services beneath (and SQLAlchemy with them) are imported by the first call that needs them
(`shared.lazy`): a release read from the cache, the request a new instance most often gets first,
loads none of them."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pydantic_core

from shared import etags, lazy
from shared.applications.rules import path_followed
from shared.applications.schemas import ApplicationIn, ApplicationOut, ApplicationPatch
from shared.auth import roles
from shared.auth.principal import Principal
from shared.deployments.schemas import DeploymentSummaryOut
from shared.errors import Forbidden
from shared.models import Shape
from shared.platform.namespaces import RELEASE_LISTS_NAMESPACE, release_namespace
from shared.platform.work import UnitOfWork
from shared.releases import rules
from shared.releases.rules import StatusAction
from shared.releases.schemas import ReleaseIn, ReleaseOut, ReleasePatch

if TYPE_CHECKING:
    import sqlalchemy as sa

    from shared.applications import service as applications
    from shared.deployments import environments, queries
    from shared.deployments import service as deployments
    from shared.releases import service as releases
else:
    applications = lazy.module("shared.applications.service")
    environments = lazy.module("shared.deployments.environments")
    queries = lazy.module("shared.deployments.queries")
    deployments = lazy.module("shared.deployments.service")
    releases = lazy.module("shared.releases.service")

# An application as the API shows it, given the path its gates follow.
public_application = Shape(ApplicationOut, given=("path", "default_path"))


class ReleaseDetailOut(ReleaseOut):
    deployments: dict[str, DeploymentSummaryOut]


def release_events(
    work: UnitOfWork, *, release_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """A release's timeline, oldest first (`shared.releases.service.release_events`)."""
    return releases.release_events(work, release_id=release_id, limit=limit, cursor=cursor)


def cache_key(release_id: object) -> tuple[str, str]:
    """Where one release's representation is cached."""
    return release_namespace(release_id), "v"


def _representation(work: UnitOfWork, row: Any) -> dict[str, Any]:
    summary = queries.release_summary(work.conn, release_id=row.id)
    return releases.public_release(row) | {"deployments": summary}


@functools.cache
def _release_with_summary() -> sa.Select[Any]:
    """One release and its deployment summary in one statement (built on first use, not at import)."""
    return releases.release_select(queries.summary_column())


def _check_precondition(work: UnitOfWork, row: Any, if_match: Callable[[str], bool] | None) -> None:
    if if_match is not None:
        etags.check(_representation(work, row), if_match)


def get_release(work: UnitOfWork, *, release_id: uuid.UUID) -> dict[str, Any]:
    """The release and, per environment, its deployments; served from the cache when fresh."""

    def load() -> dict[str, Any]:
        row = releases.read_release(work, release_id, _release_with_summary())
        return releases.public_release(row) | {"deployments": queries.summary_from_json(row.deployments)}

    return dict(work.cache.fetch(*cache_key(release_id), load))


def list_releases(
    work: UnitOfWork,
    *,
    limit: int,
    cursor: str | None = None,
    application: str | None = None,
    status: str | None = None,
    environment: str | None = None,
    q: str | None = None,
    sort: str = "-created_at",
) -> dict[str, Any]:
    """A page of releases (`environment`: those live there now), newest first or by SemVer
    precedence, keyset-paginated and cached."""
    params = {"limit": limit, "cursor": cursor, "application": application, "status": status}
    params |= {"environment": environment, "q": q, "sort": sort}
    key = pydantic_core.to_json(params).decode()
    after = releases.list_position(cursor, sort)
    among = queries.live_release_ids(environment) if environment else None

    def load() -> dict[str, Any]:
        return releases.list_page(
            work, limit=limit, after=after, application=application, status=status, q=q, sort=sort, among=among
        )

    return dict(work.cache.fetch(RELEASE_LISTS_NAMESPACE, key, load))


def create_release(work: UnitOfWork, *, caller: Principal, release: ReleaseIn) -> dict[str, Any]:
    """A new draft (or ready) release, by a developer of its application; 409 `duplicate_version` when
    the version exists. The first release of an unknown application registers it on the default path,
    which only an organisation-wide developer may do (403 `forbidden`)."""
    application = release.application
    registered = False
    if applications.exists(work.conn, application):
        roles.require(caller.grants, "developer", application=application)
    else:
        if not roles.at_least(roles.role_on(caller.grants) or "viewer", "developer"):
            raise Forbidden(
                f"There is no application {application!r}; registering one with its first release needs "
                "an organisation-wide developer role (or ask an admin to register it).",
                code="forbidden",
            )
        registered = applications.register(work, name=application)
    row = releases.create_release(work, actor=caller.actor, release=release, registered_application=registered)
    return releases.public_release(row) | {"deployments": {}}


def update_release(
    work: UnitOfWork,
    *,
    release_id: uuid.UUID,
    caller: Principal,
    patch: ReleasePatch,
    if_match: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Edit a draft's content (a developer of its application)."""
    row = releases.load_release(work.conn, release_id, lock="update")
    roles.require(caller.grants, "developer", application=row.application)
    _check_precondition(work, row, if_match)
    row = releases.edit_release(work, row=row, actor=caller.actor, patch=patch)
    return _representation(work, row)


def delete_release(
    work: UnitOfWork,
    *,
    release_id: uuid.UUID,
    caller: Principal,
    if_match: Callable[[str], bool] | None = None,
) -> None:
    """Delete a draft (a developer of its application)."""
    row = releases.load_release(work.conn, release_id, lock="update")
    roles.require(caller.grants, "developer", application=row.application)
    _check_precondition(work, row, if_match)
    releases.delete_release(work, row=row, actor=caller.actor)


def change_status(
    work: UnitOfWork,
    *,
    release_id: uuid.UUID,
    caller: Principal,
    action: StatusAction,
    reason: str | None = None,
    if_match: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Finalize (draft → ready) or cancel (draft or ready → cancelled, with a reason), by a developer
    of its application.

    The row is held FOR UPDATE, which waits for deployment requests (FOR SHARE) and holds them off:
    cancel and deploy happen in one order, and the cancel ends the deployments not yet started."""
    row = releases.load_release(work.conn, release_id, lock="update")
    roles.require(caller.grants, "developer", application=row.application)
    _check_precondition(work, row, if_match)
    row = releases.set_status(work, row=row, action=action, reason=reason)
    actor = caller.actor
    data: dict[str, Any] = {"reason": reason}
    if row.status == rules.CANCELLED:
        data |= deployments.end_with_release(work, release_id=release_id, actor=actor, reason=reason)
    releases.status_recorded(work, row=row, actor=actor, action=action, data=data)
    return _representation(work, row)


# -- applications, with the path their gates follow ---------------------------------------------------


def _applications_shown(work: UnitOfWork, rows: list[Any]) -> list[dict[str, Any]]:
    """Applications as the API shows them, each with its own path or the default one (three queries at most)."""
    own = applications.own_paths(work.conn, [r.name for r in rows])
    default = environments.default_path(work.conn) if any(not p for p in own.values()) else []
    shown = []
    for row in rows:
        path, is_default = path_followed(own[row.name], default)
        shown.append(public_application(row, path=applications.stage_dicts(path), default_path=is_default))
    return shown


def list_applications(work: UnitOfWork, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Applications by name, a page at a time, each with its path."""
    rows, next_cursor = applications.list_page(work.conn, limit=limit, cursor=cursor)
    return _applications_shown(work, rows), next_cursor


def get_application(work: UnitOfWork, *, name: str) -> dict[str, Any]:
    """One application with its path."""
    return _applications_shown(work, [applications.load(work.conn, name)])[0]


def create_application(work: UnitOfWork, *, caller: Principal, application: ApplicationIn) -> dict[str, Any]:
    """Register an application, on its own path or the default one (organisation-wide admins); its
    path may not go below an environment policy (422 `below_environment_policy`)."""
    row = applications.create(
        work,
        grants=caller.grants,
        actor=caller.actor,
        application=application,
        policies=environments.policies(work.conn),
    )
    return _applications_shown(work, [row])[0]


def update_application(
    work: UnitOfWork,
    *,
    name: str,
    caller: Principal,
    patch: ApplicationPatch,
    if_match: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Change an application's names or path (`path: null`: back to the default), by an admin of it;
    never below an environment policy, which only an organisation-wide admin sets."""
    row = applications.load(work.conn, name, lock=True)
    roles.require(caller.grants, "admin", application=name)
    if if_match is not None:
        etags.check(_applications_shown(work, [row])[0], if_match)
    policies = environments.policies(work.conn)
    return _applications_shown(
        work, [applications.change(work, row=row, actor=caller.actor, patch=patch, policies=policies)]
    )[0]
