"""The releases function: the approvals inbox, `GET /releases/approval-requests` (what waits for
approval, with what a person needs to decide it, and whether they may; shared/deployments/inbox.py)."""

from __future__ import annotations

from tests.factories import approve, as_role, bind, deploy, make_team, ready_release, register_application, ship

PATH = "/releases/approval-requests"


def inbox(releases, headers, query=""):
    answer = releases.get(f"{PATH}{query}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_each_request_says_what_changes_who_asked_and_whether_the_caller_may_decide(releases, awaiting_approval):
    _, manager = as_role("release_manager")
    case = awaiting_approval

    mine = inbox(releases, manager)["items"]
    requester = inbox(releases, case["requester"])["items"]
    _, viewer = as_role("viewer")
    onlooker = inbox(releases, viewer)["items"]

    assert [item["deployment"]["id"] for item in mine] == [case["deployment"]["id"]]
    item = mine[0]
    assert item["release"] == {"id": case["release"]["id"], "title": "1.0.0", "summary": ""}
    assert item["deployment"]["requested_by_name"] == "Release Manager"
    assert item["still_needed"] == [{"count": 1, "team": None, "role": None, "approved_by": [], "remaining": 1}]
    assert item["may_approve"] is item["may_reject"] is True and item["refusal"] is None
    assert requester[0]["may_approve"] is requester[0]["may_reject"] is False
    assert requester[0]["refusal"]["code"] == "self_approval"
    assert onlooker[0]["refusal"]["code"] == "insufficient_role" and onlooker[0]["may_reject"] is False


def test_the_summary_is_the_first_paragraph_of_the_notes_on_one_line(releases, developer, manager):
    notes = "\n\nFaster payment\npage.\n\nThe rest of the story, " + "long " * 100
    release = ready_release(releases, developer, application="shop", notes=notes)
    ship(releases, developer, release["id"], "dev")
    ship(releases, developer, release["id"], "staging")
    deploy(releases, developer, release["id"], "production")

    (item,) = inbox(releases, manager)["items"]

    assert item["release"]["summary"] == "Faster payment page."


def test_a_request_short_of_its_rules_says_what_remains_and_who_is_no_longer_needed(releases, auth, admin, developer):
    sre, qa, sre_too = as_role("release_manager"), as_role("release_manager"), as_role("release_manager")
    make_team(auth, admin, "sre", members=[sre[0], sre_too[0]])
    make_team(auth, admin, "qa", members=[qa[0]])
    rules = [{"count": 1, "team": "sre"}, {"count": 1, "team": "qa"}]
    path = [{"environment": "staging"}, {"environment": "production", "approval_rules": rules}]
    register_application(releases, admin, "checkout", path=path)
    release = ready_release(releases, developer, application="checkout")
    ship(releases, developer, release["id"], "staging")
    case = {"release": release, "deployment": deploy(releases, developer, release["id"], "production").get_json()}
    assert approve(releases, case, sre[1]).status_code == 201

    (item,) = inbox(releases, qa[1])["items"]
    (decided,) = inbox(releases, sre[1])["items"]
    (not_needed,) = inbox(releases, sre_too[1])["items"]
    assert [rule["team"] for rule in item["still_needed"]] == ["qa"] and item["may_approve"] is True
    assert decided["refusal"]["code"] == "already_decided" and decided["may_reject"] is False
    # sre's rule is met: a second sre approval would count for nothing, but a veto still counts.
    assert not_needed["refusal"]["code"] == "approval_not_needed" and not_needed["may_approve"] is False
    assert not_needed["may_reject"] is True

    assert approve(releases, case, qa[1]).status_code == 201
    assert inbox(releases, qa[1])["items"] == []


def test_a_scoped_manager_may_decide_only_where_their_binding_reaches(releases, auth, admin, developer):
    scoped, headers = as_role("viewer")
    register_application(releases, admin, "billing")
    bind(auth, admin, scoped, "release_manager", application="billing")
    for application in ("billing", "shop"):
        release = ready_release(releases, developer, application=application)
        ship(releases, developer, release["id"], "dev")
        ship(releases, developer, release["id"], "staging")
        deploy(releases, developer, release["id"], "production")

    items = {item["deployment"]["application"]: item for item in inbox(releases, headers)["items"]}

    assert items["billing"]["may_approve"] is True
    assert items["shop"]["refusal"]["code"] == "insufficient_role"


def test_filters_and_keyset_pages(releases, developer, manager):
    for application in ("alpha", "beta", "gamma"):
        release = ready_release(releases, developer, application=application)
        ship(releases, developer, release["id"], "dev")
        ship(releases, developer, release["id"], "staging")
        deploy(releases, developer, release["id"], "production")

    first = releases.get(f"{PATH}?limit=2", headers=manager)
    rest = inbox(releases, manager, f"?limit=2&cursor={first.get_json()['next_cursor']}")
    only = inbox(releases, manager, "?application=beta&environment=production")

    both = first.get_json()["items"] + rest["items"]
    assert [i["deployment"]["application"] for i in both] == ["gamma", "beta", "alpha"]
    assert 'rel="next"' in first.headers["Link"] and rest["next_cursor"] is None
    assert [i["deployment"]["application"] for i in only["items"]] == ["beta"]
    assert inbox(releases, manager, "?environment=staging")["items"] == []


def test_bad_filters_are_422_naming_the_field(releases, manager):
    answer = releases.get(f"{PATH}?application=Not%20A%20Slug&limit=0", headers=manager)

    assert answer.status_code == 422
    assert {e["field"] for e in answer.get_json()["errors"]} == {"application", "limit"}
