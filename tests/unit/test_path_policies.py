"""Environment policies over promotion paths, as plain rules: the floor a path may not go below."""

from __future__ import annotations

import pytest

from shared.applications.rules import (
    ApprovalRule,
    Policy,
    Requirement,
    Stage,
    below_policy,
    check_policies,
    requirement,
    skipped,
)
from shared.errors import Invalid

POLICIES = {
    "dev": Policy("dev", 1),
    "staging": Policy("staging", 2, skippable=False),
    "production": Policy("production", 3, min_approvals=2, approver_team="sre"),
}


def test_the_stage_or_the_policy_whichever_asks_more_decides_an_approval():
    assert requirement(Stage("production", 1), POLICIES["production"]) == Requirement(2, ("sre",), (ApprovalRule(2),))
    assert requirement(Stage("production", 3, approver_team="qa"), POLICIES["production"]) == Requirement(
        3, ("sre", "qa"), (ApprovalRule(3),)
    )
    assert requirement(Stage("dev", 1, approver_team="qa"), None) == Requirement(1, ("qa",), (ApprovalRule(1),))


def test_a_path_that_skips_an_unskippable_environment_before_a_later_one_is_below_the_policy():
    path = [Stage("dev"), Stage("production", 2, approver_team="sre")]

    assert [p.environment for p in skipped(path, "production", POLICIES)] == ["staging"]
    assert skipped(path, "dev", POLICIES) == []
    assert [e.field for e in below_policy(path, POLICIES)] == ["path.1.environment"]


def test_each_field_below_a_policy_is_named_and_a_stricter_team_is_not():
    path = [Stage("staging"), Stage("production", 1)]
    stricter = [Stage("staging"), Stage("production", 2, approver_team="payments-sre")]

    with pytest.raises(Invalid) as refused:
        check_policies(path, POLICIES)

    assert refused.value.code == "below_environment_policy"
    assert [e.field for e in refused.value.errors] == ["path.1.required_approvals", "path.1.approver_team"]
    assert below_policy(stricter, POLICIES) == []
