"""The releases function: approving a deployment (shared/deployments/approvals.py)."""

import uuid

from tests.factories import approve, as_role, deploy, deployment_of, ship

# -- approvals ------------------------------------------------------------------------------------


def test_developers_cannot_approve(releases, awaiting_approval):
    assert approve(releases, awaiting_approval, as_role("developer")[1]).status_code == 403


def test_the_author_and_the_requester_cannot_approve(releases, awaiting_approval):
    from shared.auth import service as auth_service
    from shared.auth.principal import Principal
    from shared.auth.roles import Grant
    from shared.auth.schemas import UserPatch
    from shared.platform.work import unit_of_work
    from tests.factories import access_token, bearer

    by_requester = approve(releases, awaiting_approval, awaiting_approval["requester"])
    assert by_requester.status_code == 403
    assert by_requester.get_json()["code"] == "self_approval"

    # The author, promoted to release manager since, still may not approve their own release.
    author_id = awaiting_approval["release"]["created_by"]
    with unit_of_work() as work:
        admin = Principal(uuid.uuid4(), "admin@example.com", "admin", grants=(Grant("admin"),))
        auth_service.update_user(work, uuid.UUID(author_id), UserPatch(role="release_manager"), admin)
    by_author = approve(releases, awaiting_approval, bearer(access_token({"id": author_id, "role": "release_manager"})))
    assert by_author.status_code == 403
    assert by_author.get_json()["code"] == "self_approval"


def test_one_decision_per_person(releases, awaiting_approval, admin):
    releases.put("/releases/environments/production", json={"position": 3, "required_approvals": 2}, headers=admin)
    manager = as_role("release_manager")[1]

    first = approve(releases, awaiting_approval, manager)
    second = approve(releases, awaiting_approval, manager)

    assert first.status_code == 201 and first.get_json()["deployment"]["status"] == "pending_approval"
    assert second.status_code == 409
    assert second.get_json()["code"] == "already_decided"
    assert approve(releases, awaiting_approval, admin).get_json()["deployment"]["status"] == "queued"


def test_one_rejection_rejects(releases, awaiting_approval, manager):
    response = approve(releases, awaiting_approval, manager, decision="reject")

    assert response.get_json()["deployment"]["status"] == "rejected"
    assert approve(releases, awaiting_approval, as_role("admin")[1]).status_code == 409


def test_whoever_edited_or_finalized_a_release_cannot_approve_it(releases, developer):
    _, editor = as_role("release_manager")
    _, finalizer = as_role("release_manager")
    _, requester = as_role("developer")
    _, reviewer = as_role("release_manager")
    draft = releases.post(
        "/releases", json={"application": "shop", "version": "1.0.0", "title": "1.0.0"}, headers=developer
    ).get_json()
    swapped = [{"name": "image", "uri": "registry.example.com/shop:1.0.0", "digest": "sha256:" + "e" * 64}]
    assert releases.patch(f"/releases/{draft['id']}", json={"artifacts": swapped}, headers=editor).status_code == 200
    assert releases.post(f"/releases/{draft['id']}/finalize", headers=finalizer).status_code == 200
    ship(releases, developer, draft["id"], "dev")
    ship(releases, developer, draft["id"], "staging")
    case = {"release": draft, "deployment": deploy(releases, requester, draft["id"], "production").get_json()}

    by_editor = approve(releases, case, editor)
    by_finalizer = approve(releases, case, finalizer)

    assert (by_editor.status_code, by_editor.get_json()["code"]) == (403, "self_approval")
    assert (by_finalizer.status_code, by_finalizer.get_json()["code"]) == (403, "self_approval")
    assert deployment_of(releases, requester, draft["id"], case["deployment"]["id"])["approvals"] == []
    assert approve(releases, case, reviewer).get_json()["deployment"]["status"] == "queued"
