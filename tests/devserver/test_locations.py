"""Under `make dev` every `Location` a create answers is a URL the client can GET."""

from __future__ import annotations

from tests.factories import as_role
from tests.servers import DevServer, call

DIGEST = "sha256:" + "b" * 64


def _follow(server: DevServer, headers: dict[str, str], location: str, expected: str) -> dict:
    assert location == expected  # the resource's own path, not merely one the server tolerates
    status, _, body = call(server.base, "GET", location, headers=headers)
    assert status == 200, (location, status, body)
    return body


def _ship(server: DevServer, headers: dict[str, str], version: str) -> tuple[str, str]:
    release = {"application": "locations", "version": version, "title": "t", "status": "ready"}
    status, answered, created = call(server.base, "POST", "/releases", release, headers)
    assert status == 201
    assert _follow(server, headers, answered["Location"], f"/releases/{created['id']}")["id"] == created["id"]
    path = f"/releases/{created['id']}/deployments"
    status, answered, deployment = call(server.base, "POST", path, {"environment": "dev"}, headers)
    assert status == 201
    own = f"{path}/{deployment['id']}"
    assert _follow(server, headers, answered["Location"], own)["id"] == deployment["id"]
    for step in ("in_progress", "succeeded"):
        assert call(server.base, "PATCH", f"{path}/{deployment['id']}", {"status": step}, headers)[0] == 200
    return created["id"], deployment["id"]


def test_every_location_under_make_dev_is_a_url_a_client_can_get(dev_server):
    _, headers = as_role("release_manager")
    first, _ = _ship(dev_server, headers, "1.0.0")
    _ship(dev_server, headers, "1.1.0")

    reason = {"application": "locations", "environment": "dev", "reason": "bad"}
    status, answered, rollback = call(dev_server.base, "POST", "/releases/rollback", reason, headers)

    assert status == 201 and rollback["release_id"] == first
    own = f"/releases/{first}/deployments/{rollback['id']}"
    assert _follow(dev_server, headers, answered["Location"], own)["kind"] == "rollback"


def test_a_deployment_reads_with_an_etag_and_answers_304_when_unchanged(dev_server):
    _, headers = as_role("developer")
    release_id, deployment_id = _ship(dev_server, headers, "2.0.0")
    path = f"/releases/{release_id}/deployments/{deployment_id}"

    status, answered, body = call(dev_server.base, "GET", path, headers=headers)
    assert status == 200 and body["status"] == "succeeded" and answered["ETag"]
    status, _, _ = call(dev_server.base, "GET", path, headers={**headers, "If-None-Match": answered["ETag"]})
    assert status == 304
    other = call(dev_server.base, "GET", f"/releases/{release_id}/deployments/{release_id}", headers=headers)
    assert other[0] == 404 and other[2]["code"] == "deployment_not_found"
