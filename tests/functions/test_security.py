"""Object- and property-level authorization, and the headers every response carries."""

import uuid

import pytest

from tests.factories import as_role

SOME_ID = str(uuid.uuid4())
WRITES = [
    ("POST", "/releases", {"application": "a", "version": "1.0.0", "title": "t"}, "developer"),
    ("PATCH", f"/releases/{SOME_ID}", {"title": "t"}, "developer"),
    ("DELETE", f"/releases/{SOME_ID}", None, "developer"),
    ("POST", f"/releases/{SOME_ID}/finalize", None, "developer"),
    ("POST", f"/releases/{SOME_ID}/cancel", {"reason": "x"}, "developer"),
    ("POST", f"/releases/{SOME_ID}/deployments", {"environment": "dev"}, "developer"),
    ("PATCH", f"/releases/{SOME_ID}/deployments/{SOME_ID}", {"status": "in_progress"}, "developer"),
    ("POST", f"/releases/{SOME_ID}/deployments/{SOME_ID}/approvals", {"decision": "approve"}, "release_manager"),
    ("POST", "/releases/rollback", {"application": "a", "environment": "dev", "reason": "x"}, "release_manager"),
    (
        "POST",
        "/releases/freezes",
        {"reason": "x", "weekly": [{"day": "fri", "start": "16:00", "end": "18:00"}], "timezone": "UTC"},
        "release_manager",
    ),
    ("DELETE", f"/releases/freezes/{SOME_ID}", None, "release_manager"),
    ("PUT", "/releases/environments/qa", {"position": 9}, "admin"),
    ("GET", "/releases/audit", None, "admin"),
    ("GET", "/releases/audit/verify", None, "admin"),
]
ROLES = ["viewer", "developer", "release_manager", "admin"]


@pytest.mark.parametrize(("method", "path", "body", "needs"), WRITES)
def test_every_role_below_the_one_needed_gets_403(releases, method, path, body, needs):
    for role in ROLES[: ROLES.index(needs)]:
        _, headers = as_role(role)

        response = releases.open(path, method=method, json=body, headers=headers)

        assert response.status_code == 403, (role, method, path, response.get_json())
        assert response.get_json()["code"] == "insufficient_role"


@pytest.mark.parametrize(("method", "path", "body", "needs"), WRITES)
def test_no_token_is_401(releases, method, path, body, needs):
    assert releases.open(path, method=method, json=body).status_code == 401


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/releases", {"application": "a", "version": "1.0.0", "title": "t", "created_by": SOME_ID}),
        ("/releases", {"application": "a", "version": "1.0.0", "title": "t", "id": SOME_ID}),
        ("/releases", {"application": "a", "version": "1.0.0", "title": "t", "status": "cancelled"}),
    ],
)
def test_server_owned_release_fields_cannot_be_set_through_a_body(releases, path, body):
    _, developer = as_role("developer")

    assert releases.post(path, json=body, headers=developer).status_code == 422


def test_a_deployment_status_or_requester_cannot_be_chosen_at_request_time(releases):
    _, developer = as_role("developer")

    response = releases.post(
        f"/releases/{SOME_ID}/deployments",
        json={"environment": "dev", "status": "succeeded", "requested_by": SOME_ID},
        headers=developer,
    )

    assert response.status_code == 422
    assert {e["field"] for e in response.get_json()["errors"]} == {"status", "requested_by"}


def test_nobody_raises_their_own_role(auth):
    user, developer = as_role("developer")

    assert auth.patch(f"/auth/users/{user['id']}", json={"role": "admin"}, headers=developer).status_code == 403
    assert (
        auth.post(
            "/auth/register",
            json={"email": "x@example.com", "password": "p" * 12, "display_name": "x", "role": "admin"},
        ).status_code
        == 422
    )


def test_auth_responses_are_never_cached(auth):
    _, viewer = as_role("viewer")

    for response in (
        auth.get("/auth/me", headers=viewer),
        auth.post("/auth/login", json={"email": "a@b.c", "password": "x"}),
    ):
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("name", "path"), [("auth", "/auth/me"), ("releases", "/releases"), ("health", "/health")])
def test_every_function_forbids_content_sniffing(apps, name, path):
    assert apps[name].test_client().get(path).headers["X-Content-Type-Options"] == "nosniff"


def test_answers_that_depend_on_the_caller_are_private_and_never_stored(releases):
    _, developer = as_role("developer")
    created = releases.post("/releases", json={"application": "a", "version": "1.0.0", "title": "t"}, headers=developer)
    etag = created.headers["ETag"]

    for response in (
        created,
        releases.get("/releases", headers=developer),
        releases.get(f"/releases/{created.get_json()['id']}", headers=developer),
        releases.get(f"/releases/{created.get_json()['id']}", headers=developer | {"If-None-Match": etag}),
        releases.get(f"/releases/{SOME_ID}", headers=developer),
        releases.get("/releases"),
    ):
        assert response.headers["Cache-Control"] == "private, no-store", (response.status_code, response.request.path)


def test_public_documents_stay_cacheable(releases):
    assert "no-store" not in releases.get("/releases/openapi.json").headers.get("Cache-Control", "")
    assert "no-store" not in releases.get("/releases/docs").headers.get("Cache-Control", "")
