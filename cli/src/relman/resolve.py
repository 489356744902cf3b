"""Names to ids: a release is `ID` or `APPLICATION@VERSION`; a deployment is `ID` or `RELEASE_ID/ID`.

A bare deployment id is read with `GET /releases/deployments/{id}`; a release with an environment
names its newest deployment there.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from relman.errors import RelmanError, problem

if TYPE_CHECKING:
    from relman.client import Client


def _uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def not_found(what: str, code: str) -> RelmanError:
    return RelmanError(f"no {what}", document=problem(code, "Not found", f"no {what}", 404))


def release_id(client: Client, ref: str) -> str:
    if found := _uuid(ref):
        return found
    application, at, version = ref.partition("@")
    if not at or not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", application) or not version:
        raise RelmanError(f"{ref!r} is not a release: give its id or APPLICATION@VERSION (checkout@1.4.0)")
    for release in client.pages("/releases", application=application, sort="-version"):
        if release.get("version") == version:
            return str(release["id"])
    raise not_found(f"release {application}@{version}", "release_not_found")


def deployment(
    client: Client, ref: str, *, likely_status: str | None = None, environment: str | None = None
) -> dict[str, Any]:
    """The deployment as the service shows it now: REF is its id, RELEASE_ID/ID, or a release
    (`APPLICATION@VERSION` or its id) with `environment`: its newest deployment there (in
    `likely_status` where one is)."""
    release_part, slash, deployment_part = ref.rpartition("/")
    if slash:
        rid, did = release_id(client, release_part), _uuid(deployment_part)
        if did is None:
            raise RelmanError(f"{deployment_part!r} is not a deployment id")
        return dict(client.get(f"/releases/{rid}/deployments/{did}"))
    did = _uuid(ref)
    if did is not None and environment is None:
        return dict(client.get(f"/releases/deployments/{did}"))
    if environment is None:
        raise RelmanError(f"{ref!r} is a release: add --env ENV to say which of its deployments")
    rid = release_id(client, ref)
    there = [d for d in client.pages(f"/releases/{rid}/deployments") if d.get("environment") == environment]
    if not there:
        raise not_found(f"deployment of {ref} to {environment}", "deployment_not_found")
    likely = [d for d in there if d.get("status") == likely_status]
    return dict((likely or there)[0])  # newest first
