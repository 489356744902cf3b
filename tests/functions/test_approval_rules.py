"""The releases function: approval rules per group on a stage and on the environment policy ("1 from
qa and 2 from sre"), one person counting for one rule only (shared/deployments/approval_rules.py)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.factories import (
    access_token,
    approve,
    as_role,
    audit_of,
    bearer,
    deploy,
    deployment_of,
    make_team,
    make_user,
    ready_release,
    register_application,
    report,
    ship,
)

QA_AND_SRE = [{"count": 1, "team": "qa"}, {"count": 2, "team": "sre"}]
QA_AND_ONE_SRE = [{"count": 1, "team": "qa"}, {"count": 1, "team": "sre"}]


def manager_in(*teams_of_people):
    """A release manager (user, headers) for each entry, made a member of the teams it names."""
    return [(user := make_user("release_manager"), bearer(access_token(user)), teams) for teams in teams_of_people]


@pytest.fixture
def people(auth, admin):
    """ana and fay (qa), bo and cy (sre), dee (qa and sre), eve (payments): release managers all."""
    names = ["ana", "fay", "bo", "cy", "dee", "eve"]
    made = dict(zip(names, manager_in(["qa"], ["qa"], ["sre"], ["sre"], ["qa", "sre"], ["payments"]), strict=True))
    for team in ("qa", "sre", "payments"):
        make_team(auth, admin, team, members=[user for user, _, teams in made.values() if team in teams])
    return {name: headers for name, (_, headers, _) in made.items()} | {
        f"{name}_id": str(user["id"]) for name, (user, _, _) in made.items()
    }


@pytest.fixture
def waiting(releases, admin, developer, people):
    """checkout 1.0.0 requested for production, whose stage asks 1 from qa and 2 from sre."""
    path = [{"environment": "staging"}, {"environment": "production", "approval_rules": QA_AND_SRE}]
    register_application(releases, admin, "checkout", path=path)
    release = ready_release(releases, developer, application="checkout")
    ship(releases, developer, release["id"], "staging")
    preflight = releases.post(
        f"/releases/{release['id']}/deployments/preflight", json={"environment": "production"}, headers=developer
    ).get_json()
    deployment = deploy(releases, developer, release["id"], "production").get_json()
    return {"release": release, "deployment": deployment, "preflight": preflight, "developer": developer}


def rules_of(releases, case):
    got = deployment_of(releases, case["developer"], case["release"]["id"], case["deployment"]["id"])
    return got["status"], [(r["team"], sorted(r["approved_by"]), r["remaining"]) for r in got["approval_rules"]]


def test_the_stage_is_stored_with_its_rules_and_preflight_shows_them(releases, waiting):
    stage = releases.get("/releases/applications/checkout", headers=waiting["developer"]).get_json()["path"][1]

    assert stage["required_approvals"] == 3  # the rules' sum
    assert stage["approval_rules"] == [
        {"count": 1, "team": "qa", "role": None},
        {"count": 2, "team": "sre", "role": None},
    ]
    assert waiting["preflight"]["required_approvals"] == 3
    assert waiting["preflight"]["approval_rules"] == stage["approval_rules"]
    assert waiting["deployment"]["status"] == "pending_approval"
    assert [r["remaining"] for r in waiting["deployment"]["approval_rules"]] == [1, 2]


def test_every_rule_must_be_met_and_one_person_counts_for_one_rule_only(releases, waiting, people):
    # dee is in qa and in sre: one approval, one place.
    assert approve(releases, waiting, people["dee"]).status_code == 201
    assert rules_of(releases, waiting)[0] == "pending_approval"
    assert sum(r[2] for r in rules_of(releases, waiting)[1]) == 2

    # bo (sre): dee and bo could be qa + sre; one sre place is left.
    assert approve(releases, waiting, people["bo"]).status_code == 201
    status, progress = rules_of(releases, waiting)
    assert status == "pending_approval"
    assert progress == [("qa", [people["dee_id"]], 0), ("sre", [people["bo_id"]], 1)]

    # ana (qa only) approves: the matching moves dee to sre, and every rule is met.
    done = approve(releases, waiting, people["ana"])
    assert done.status_code == 201
    assert done.get_json()["deployment"]["status"] == "queued"
    assert rules_of(releases, waiting)[1] == [
        ("qa", [people["ana_id"]], 0),
        ("sre", sorted([people["bo_id"], people["dee_id"]]), 0),
    ]


def test_an_approval_that_would_count_for_no_rule_is_refused_and_changes_nothing(releases, waiting, people):
    assert approve(releases, waiting, people["ana"]).status_code == 201  # qa is met
    before = deployment_of(releases, waiting["developer"], waiting["release"]["id"], waiting["deployment"]["id"])

    qa_again = approve(releases, waiting, people["fay"])

    assert (qa_again.status_code, qa_again.get_json()["code"]) == (409, "approval_not_needed")
    assert "1 from the team qa" in qa_again.get_json()["detail"]
    after = deployment_of(releases, waiting["developer"], waiting["release"]["id"], waiting["deployment"]["id"])
    assert after == before


def test_someone_in_none_of_the_groups_may_not_decide(releases, waiting, people):
    refused = approve(releases, waiting, people["eve"])
    rejected = approve(releases, waiting, people["eve"], decision="reject")

    assert (refused.status_code, refused.get_json()["code"]) == (403, "not_an_approver")
    assert "1 from the team qa, 2 from the team sre" in refused.get_json()["detail"]
    assert (rejected.status_code, rejected.get_json()["code"]) == (403, "not_an_approver")
    assert rules_of(releases, waiting)[0] == "pending_approval"


def test_a_rejection_from_any_group_rejects(releases, waiting, people):
    assert approve(releases, waiting, people["bo"], decision="reject").get_json()["deployment"]["status"] == "rejected"


def test_each_approval_records_the_groups_its_approver_was_in(releases, waiting, people):
    approve(releases, waiting, people["dee"])

    (approval,) = deployment_of(releases, waiting["developer"], waiting["release"]["id"], waiting["deployment"]["id"])[
        "approvals"
    ]
    (audited,) = [e for e in audit_of(releases, waiting["deployment"]["id"]) if e["action"] == "deployment.approved"]
    groups = ["role:developer", "role:release_manager", "role:viewer", "team:qa", "team:sre"]
    assert approval["qualified_for"] == groups
    assert audited["data"]["qualified_for"] == groups


def test_a_role_rule_counts_only_holders_of_that_role(releases, admin, developer):
    path = [
        {"environment": "staging"},
        {"environment": "production", "approval_rules": [{"count": 1, "role": "admin"}]},
    ]
    register_application(releases, admin, "ledger", path=path)
    release = ready_release(releases, developer, application="ledger")
    ship(releases, developer, release["id"], "staging")
    case = {"release": release, "deployment": deploy(releases, developer, release["id"], "production").get_json()}

    by_manager = approve(releases, case, as_role("release_manager")[1])
    by_admin = approve(releases, case, as_role("admin")[1])

    assert (by_manager.status_code, by_manager.get_json()["code"]) == (403, "not_an_approver")
    assert by_admin.get_json()["deployment"]["status"] == "queued"


def test_the_policy_rules_apply_on_top_of_every_stage_there(releases, admin, developer, people):
    put = releases.put(
        "/releases/environments/production/policy",
        json={"approval_rules": [{"count": 1, "team": "sre"}]},
        headers=admin,
    )
    release = ready_release(releases, developer, application="shop")
    ship(releases, developer, release["id"], "dev")
    ship(releases, developer, release["id"], "staging")
    case = {"release": release, "deployment": deploy(releases, developer, release["id"], "production").get_json()}

    assert put.status_code == 200 and put.get_json()["approval_rules"] == [{"count": 1, "team": "sre", "role": None}]
    # The default path's production stage asks 1 from anyone; the policy adds 1 from sre.
    assert [(r["count"], r["team"]) for r in case["deployment"]["approval_rules"]] == [(1, None), (1, "sre")]
    assert approve(releases, case, people["ana"]).get_json()["deployment"]["status"] == "pending_approval"
    assert approve(releases, case, people["bo"]).get_json()["deployment"]["status"] == "queued"


@pytest.mark.parametrize(
    ("stage", "field"),
    [
        ({"required_approvals": 1, "approval_rules": QA_AND_SRE}, "path.1"),
        ({"approval_rules": [{"count": 1, "team": "qa"}, {"count": 2, "team": "qa"}]}, "path.1.approval_rules"),
        ({"approval_rules": [{"count": 1, "team": "qa", "role": "admin"}]}, "path.1.approval_rules.0"),
        ({"approval_rules": [{"count": 0, "team": "qa"}]}, "path.1.approval_rules.0.count"),
        ({"approval_rules": [{"count": 1, "role": "developer"}]}, "path.1.approval_rules.0.role"),
    ],
)
def test_a_malformed_rule_is_refused_naming_its_field(releases, admin, people, stage, field):
    path = [{"environment": "staging"}, {"environment": "production", **stage}]

    answer = releases.post(
        "/releases/applications", json={"name": "bad", "display_name": "Bad", "path": path}, headers=admin
    )

    assert answer.status_code == 422
    assert field in [e["field"] for e in answer.get_json()["errors"]]
    assert releases.get("/releases/applications/bad", headers=admin).status_code == 404


def test_a_rule_naming_an_unknown_team_is_refused(releases, admin, people):
    path = [{"environment": "production", "approval_rules": [{"count": 1, "team": "nobody"}]}]
    stage = releases.post(
        "/releases/applications", json={"name": "bad", "display_name": "Bad", "path": path}, headers=admin
    )
    policy = releases.put(
        "/releases/environments/production/policy",
        json={"approval_rules": [{"count": 1, "team": "nobody"}]},
        headers=admin,
    )

    assert (stage.status_code, stage.get_json()["code"]) == (422, "unknown_team")
    assert stage.get_json()["errors"][0]["field"] == "path.0.approval_rules.0.team"
    assert (policy.status_code, policy.get_json()["code"]) == (422, "unknown_team")
    assert policy.get_json()["errors"][0]["field"] == "approval_rules.0.team"


def approve_at_once(apps, case, people, who: tuple[str, ...]) -> dict[str, Any]:
    """Each of `who` approves `case` from a client of their own, released together by a barrier."""
    answers: dict[str, Any] = {}
    barrier = threading.Barrier(len(who))

    def decide(name: str) -> None:
        own = apps["releases"].test_client()
        barrier.wait()
        answers[name] = approve(own, case, people[name])

    threads = [threading.Thread(target=decide, args=(name,)) for name in who]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return answers


def test_two_approvals_for_different_rules_at_once_both_count_and_queue_it_once(apps, admin, developer, people):
    # The decision holds the deployment's row FOR UPDATE: the second approval sees the first, so
    # the one that completes the rules queues it, and neither is lost. Five rounds, each racing.
    client = apps["releases"].test_client()
    path = [{"environment": "staging"}, {"environment": "production", "approval_rules": QA_AND_ONE_SRE}]
    register_application(client, admin, "racing", path=path)
    for n in range(5):
        release = ready_release(client, developer, application="racing", version=f"1.0.{n}")
        ship(client, developer, release["id"], "staging")
        case = {"release": release, "deployment": deploy(client, developer, release["id"], "production").get_json()}

        answers = approve_at_once(apps, case, people, ("ana", "bo"))

        assert {who: a.status_code for who, a in answers.items()} == {"ana": 201, "bo": 201}
        assert sorted(a.get_json()["deployment"]["status"] for a in answers.values()) == [
            "pending_approval",
            "queued",
        ]
        final = deployment_of(client, developer, release["id"], case["deployment"]["id"])
        assert final["status"] == "queued" and len(final["approvals"]) == 2
        report(client, developer, release["id"], case["deployment"]["id"], "cancelled")
