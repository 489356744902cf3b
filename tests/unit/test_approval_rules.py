"""Approval rules per group ("1 from qa and 2 from sre") as plain rules: what a stage and its policy
ask together, and who counts for which rule, one person for one rule only."""

from __future__ import annotations

import pytest

from shared.applications.rules import ApprovalRule, Policy, Stage, requirement
from shared.deployments.approval_rules import (
    Approver,
    all_met,
    assign,
    groups_of,
    progress,
    require_counts,
    require_in_a_group,
)
from shared.errors import Conflict, Forbidden

QA, SRE = ApprovalRule(1, team="qa"), ApprovalRule(2, team="sre")


def person(actor: str, *teams: str, role: str = "release_manager") -> Approver:
    return Approver(actor, groups_of(teams, role))


def test_one_person_in_two_groups_counts_for_one_rule_only():
    both = person("ana", "qa", "sre")

    assert not all_met([QA, ApprovalRule(1, team="sre")], [both])
    assert assign([QA, ApprovalRule(1, team="sre")], [both]) in ([["ana"], []], [[], ["ana"]])


def test_the_matching_moves_an_earlier_approver_to_the_rule_only_they_can_fill():
    # ana (qa and sre) approved first; bo is only in sre. A greedy count would put ana on sre and
    # leave qa empty once bo arrives; the matching puts ana on qa.
    rules = [QA, ApprovalRule(1, team="sre")]
    approvers = [person("ana", "qa", "sre"), person("bo", "sre")]

    assert assign(rules, approvers) == [["ana"], ["bo"]]
    assert all_met(rules, approvers)


def test_all_rules_must_be_met_and_progress_says_what_each_still_needs():
    approvers = [person("ana", "qa"), person("bo", "sre")]

    assert not all_met([QA, SRE], approvers)
    assert progress([QA, SRE], approvers) == [
        {"count": 1, "team": "qa", "role": None, "approved_by": ["ana"], "remaining": 0},
        {"count": 2, "team": "sre", "role": None, "approved_by": ["bo"], "remaining": 1},
    ]
    assert all_met([QA, SRE], [*approvers, person("cy", "sre")])


def test_an_approval_that_fills_no_place_is_refused_and_one_that_does_is_not():
    before = [person("ana", "qa")]

    with pytest.raises(Conflict) as refused:
        require_counts([QA, SRE], before, person("dee", "qa"))
    assert refused.value.code == "approval_not_needed"
    assert "1 from the team qa" in refused.value.detail
    require_counts([QA, SRE], before, person("ed", "qa", "sre"))  # fills an sre place


def test_someone_in_none_of_the_groups_is_not_an_approver():
    with pytest.raises(Forbidden) as refused:
        require_in_a_group([QA, SRE], groups_of(["payments"], "release_manager"), environment="production")
    assert refused.value.code == "not_an_approver"
    assert "1 from the team qa, 2 from the team sre" in refused.value.detail
    require_in_a_group([QA, ApprovalRule(1)], groups_of(["payments"], "release_manager"), environment="production")


def test_a_role_rule_counts_holders_of_that_role_or_more():
    admins = ApprovalRule(1, role="admin")

    assert not all_met([admins], [person("ana", role="release_manager")])
    assert all_met([admins], [person("bo", role="admin")])
    assert groups_of([], "admin") >= {"role:release_manager", "role:admin"}


def test_an_approval_recorded_before_groups_existed_counts_for_any_rule():
    assert all_met([QA], [Approver("old", None)])


def test_the_policy_rules_apply_on_top_of_the_stage_one_per_group_with_the_higher_count():
    stage = Stage("production", 3, approval_rules=(QA, SRE))
    policy = Policy("production", 3, approval_rules=(ApprovalRule(3, team="sre"), ApprovalRule(1, team="security")))

    needed = requirement(stage, policy)

    assert needed.rules == (QA, ApprovalRule(3, team="sre"), ApprovalRule(1, team="security"))
    assert needed.required_approvals == 5


def test_a_policy_minimum_above_the_rules_adds_the_rest_from_any_approver():
    needed = requirement(Stage("production", 3, approval_rules=(QA, SRE)), Policy("production", 3, min_approvals=5))

    assert needed.rules == (QA, SRE, ApprovalRule(2))
    assert needed.required_approvals == 5
    assert requirement(Stage("dev"), None).rules == ()
