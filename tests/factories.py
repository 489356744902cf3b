"""Builders for test data, defined once: users with a role, their tokens and request headers;
releases, deployments, approvals, freezes. The fixtures here are registered by the root conftest.

The builders call a function through its test client (`releases`), as a user would; the fixtures
that make users ask for `clean_state`, so they have a database wherever they are used.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.auth import service, tokens
from shared.auth.principal import Principal
from shared.auth.roles import Grant
from shared.platform.clock import utcnow
from shared.platform.settings import get_settings
from shared.platform.work import unit_of_work

PASSWORD = "correct horse battery staple"


# -- users ------------------------------------------------------------------------------------------


def make_user(role: str = "viewer", *, email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
    """A user with `role`, created the way the bootstrap command does."""
    with unit_of_work() as work:
        return service.create_account(
            work,
            service.NewAccount(
                email=email or f"{role}-{uuid.uuid4().hex[:8]}@example.com",
                password=password,
                display_name=role.replace("_", " ").title(),
                role=role,
                created_by="system:test",
            ),
        )


def access_token(user: dict[str, Any], *, auth_version: int = 0) -> str:
    """A valid access token for `user`, as /auth/login would issue it."""
    token, _ = tokens.issue_access_token(
        get_settings(), user_id=user["id"], role=user["role"], auth_version=auth_version, now=utcnow()
    )
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def as_role(role: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A new user with `role` and the headers that authenticate as them."""
    user = make_user(role)
    return user, bearer(access_token(user))


@pytest.fixture
def developer(clean_state: None) -> dict[str, str]:
    """Headers of a new developer."""
    return as_role("developer")[1]


@pytest.fixture
def manager(clean_state: None) -> dict[str, str]:
    """Headers of a new release manager."""
    return as_role("release_manager")[1]


@pytest.fixture
def admin(clean_state: None) -> dict[str, str]:
    """Headers of a new admin."""
    return as_role("admin")[1]


@pytest.fixture
def viewer(clean_state: None) -> dict[str, str]:
    """Headers of a new viewer."""
    return as_role("viewer")[1]


@pytest.fixture
def viewer_headers(clean_state: None) -> dict[str, str]:
    """Headers of a new viewer (another name for `viewer`)."""
    return as_role("viewer")[1]


# -- releases and deployments -----------------------------------------------------------------------


def ready_release(client, headers, application="shop", version="1.0.0", **extra):
    body = {"application": application, "version": version, "title": version, "status": "ready"} | extra
    response = client.post("/releases", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def cancel(client, headers, release_id, reason="Data corruption bug"):
    return client.post(f"/releases/{release_id}/cancel", json={"reason": reason}, headers=headers)


def deploy(client, headers, release_id, environment, **extra):
    return client.post(
        f"/releases/{release_id}/deployments", json={"environment": environment, **extra}, headers=headers
    )


def report(client, headers, release_id, deployment_id, status, **extra):
    return client.patch(
        f"/releases/{release_id}/deployments/{deployment_id}", json={"status": status, **extra}, headers=headers
    )


def ship(client, headers, release_id, environment, approver=None):
    """Deploy and report success, approving first where the stage needs it."""
    response = deploy(client, headers, release_id, environment)
    assert response.status_code == 201, response.get_json()
    deployment = response.get_json()
    if deployment["status"] == "pending_approval":
        decided = client.post(
            f"/releases/{release_id}/deployments/{deployment['id']}/approvals",
            json={"decision": "approve", "comment": "LGTM"},
            headers=approver,
        )
        assert decided.status_code == 201, decided.get_json()
    assert report(client, headers, release_id, deployment["id"], "in_progress").status_code == 200
    done = report(client, headers, release_id, deployment["id"], "succeeded")
    assert done.status_code == 200, done.get_json()
    return done.get_json()


def deployment_of(client, headers, release_id, deployment_id):
    items = client.get(f"/releases/{release_id}/deployments", headers=headers).get_json()["items"]
    return next(d for d in items if d["id"] == deployment_id)


def audit_of(client, entity_id):
    _, admin = as_role("admin")
    items = client.get("/releases/audit?limit=100", headers=admin).get_json()["items"]
    return [e for e in items if e["entity_id"] == entity_id]


@pytest.fixture
def awaiting_approval(releases):
    """A ready release shipped to staging and requested for production: waiting for an approval."""
    _, author = as_role("developer")
    _, requester = as_role("release_manager")
    release = ready_release(releases, author)
    ship(releases, author, release["id"], "dev")
    ship(releases, author, release["id"], "staging")
    deployment = deploy(releases, requester, release["id"], "production").get_json()
    return {"release": release, "deployment": deployment, "author": author, "requester": requester}


def approve(releases, case, headers, decision="approve"):
    return releases.post(
        f"/releases/{case['release']['id']}/deployments/{case['deployment']['id']}/approvals",
        json={"decision": decision, "comment": "ok"},
        headers=headers,
    )


def freeze_now(client, headers, environment=None):
    now = datetime.now(UTC)
    body = {"starts_at": (now - timedelta(minutes=1)).isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()}
    response = client.post(
        "/releases/freezes", json=body | {"environment": environment, "reason": "Launch day"}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# -- teams, role bindings and applications ----------------------------------------------------------


def make_team(auth, admin, name, members=()):
    """A team with these members (user dicts)."""
    response = auth.post("/auth/teams", json={"name": name, "display_name": name.title()}, headers=admin)
    assert response.status_code == 201, response.get_json()
    for member in members:
        assert auth.put(f"/auth/teams/{name}/members/{member['id']}", headers=admin).status_code == 204
    return response.get_json()


def bind(auth, admin, subject, role, application=None, environments=None, *, kind="user"):
    """A role binding of a user (or `kind="team"`) on a scope; `subject` is its record."""
    body = {"subject": {"type": kind, "id": str(subject["id"])}, "role": role}
    body |= {"application": application, "environments": environments}
    response = auth.post("/auth/bindings", json=body, headers=admin)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def register_application(releases, admin, name, path=None):
    """An application, on its own `path` (a list of stages) or the default one."""
    body = {"name": name, "display_name": name.title()} | ({"path": path} if path is not None else {})
    response = releases.post("/releases/applications", json=body, headers=admin)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# -- a unit of work for service tests ---------------------------------------------------------------


class RecordingCache:
    """The cache a service test gives its unit of work: reads always load (nothing is served from a
    cache), and each namespace the work invalidates is recorded, so a test sees when it happened."""

    def __init__(self) -> None:
        self.invalidated: list[str] = []

    def fetch(self, namespace: str, key: str, load: Any, **_: Any) -> Any:
        return load()

    def run(self, action: Any) -> None:  # as the real cache does when Redis is down
        return None

    def invalidate(self, *namespaces: str) -> None:
        self.invalidated.extend(namespaces)


def as_principal(user: dict[str, Any], *teams: str) -> Principal:
    """The caller a service sees for `user` (made by `make_user`): its org-wide role, in `teams`."""
    return Principal(
        user_id=user["id"], email=user["email"], role=user["role"], grants=(Grant(user["role"]),), teams=teams
    )


def work_at(now: datetime, cache: RecordingCache | None = None) -> Any:
    """A unit of work on the real database whose clock reads `now`: the time a service test gives,
    in place of patching the clock. It commits when the block ends normally, as a request's does."""
    return unit_of_work(cache=cache if cache is not None else RecordingCache(), now=now)
