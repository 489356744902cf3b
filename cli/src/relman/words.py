"""What gates and rules ask, in words, for people: an approval rule, a stage with its environment's
policy, deploy windows, what a waiting deployment still needs."""

from __future__ import annotations

from typing import Any


def still_needed(rules: list[dict[str, Any]]) -> str:
    """What a waiting deployment's approval rules still need: "1 from the team sre"."""
    return ", ".join(describe_rule(r | {"count": r["remaining"]}) for r in rules if r.get("remaining"))


def describe_rule(rule: dict[str, Any]) -> str:
    """An approval rule in words: "2 from the team sre"."""
    if rule.get("team"):
        group = f"the team {rule['team']}"
    else:
        group = f"holders of {rule['role']}" if rule.get("role") else "any approver"
    return f"{rule['count']} from {group}"


def describe_windows(policy: dict[str, Any] | None) -> str | None:
    """An environment policy's deploy windows in words (None: it has none, work starts any time)."""
    if not policy or not policy.get("deploy_windows"):
        return None
    spans = ", ".join(f"{w['day']} {w['start']}-{w['end']}" for w in policy["deploy_windows"])
    outside = "refused" if policy.get("outside_window") == "refuse" else "held until one opens"
    return f"{spans} {policy.get('windows_timezone')} (outside them: {outside})"


def describe_gates(stage: dict[str, Any] | None, policy: dict[str, Any] | None) -> str:
    """What a stage and its environment's policy ask, in a few words, for `relman status`."""
    if stage is None:
        return "not on the path"
    rules = [describe_rule(rule) for rule in stage.get("approval_rules") or []]
    if not rules and stage.get("required_approvals"):
        team = f" from the team {stage['approver_team']}" if stage.get("approver_team") else ""
        rules = [f"{stage['required_approvals']} approval{'s' if stage['required_approvals'] != 1 else ''}{team}"]
    parts = [", ".join(rules)] if rules else []
    if stage.get("soak_minutes"):
        parts.append(f"soak {stage['soak_minutes']} min")
    if stage.get("skippable_by"):
        parts.append(f"skippable by {stage['skippable_by']}")
    if stage.get("train_schedule"):
        parts.append(f"promoted by the train {stage['train_schedule']} ({stage.get('train_timezone') or 'UTC'})")
    elif stage.get("auto_promote"):
        parts.append("auto-promoted")
    if stage.get("auto_rollback"):
        parts.append("auto-rollback")
    if policy:
        floor = [describe_rule(rule) for rule in policy.get("approval_rules") or []]
        if policy.get("min_approvals"):
            floor.insert(0, f"at least {policy['min_approvals']}")
        if floor:
            parts.append("policy: " + ", ".join(floor))
        windows = describe_windows(policy)
        if windows:
            parts.append(f"windows {windows}")
    return "; ".join(parts)
