"""Names to ids: a release is `ID` or `APPLICATION@VERSION`; a deployment is `ID` or `RELEASE_ID/ID`.

The service reads a deployment only under its release (`/releases/{id}/deployments/{dep_id}`), so a bare
deployment id is looked up in `GET /releases/deployments` (newest first, the likely status first).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from relman.errors import RelmanError, problem

if TYPE_CHECKING:
    from relman.client import Client

SCAN_LIMIT = 2000  # deployments looked through for a bare id before giving up


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


def deployment(client: Client, ref: str, *, likely_status: str | None = None) -> dict[str, Any]:
    """The deployment as the service shows it now."""
    release_part, slash, deployment_part = ref.rpartition("/")
    if slash:
        rid, did = release_id(client, release_part), _uuid(deployment_part)
        if did is None:
            raise RelmanError(f"{deployment_part!r} is not a deployment id")
        return dict(client.get(f"/releases/{rid}/deployments/{did}"))
    did = _uuid(ref)
    if did is None:
        raise RelmanError(f"{ref!r} is not a deployment: give its id, or RELEASE/DEPLOYMENT")
    scans: list[dict[str, Any]] = [{"status": likely_status}] if likely_status else []
    for filters in [*scans, {}]:
        for item in client.pages("/releases/deployments", max_items=SCAN_LIMIT, **filters):
            if item.get("id") == did:
                return dict(client.get(f"/releases/{item['release_id']}/deployments/{did}"))
    raise not_found(f"deployment {did}", "deployment_not_found")
